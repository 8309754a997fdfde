-- berth.duration: Go/Kubernetes durations and kubectl's human-readable ages in pure Lua.
--
-- parse("1m30s") follows Go's time.ParseDuration (units ns, us, µs, μs, ms, s, m, h; a sign;
-- fractions; "0" alone needs no unit; more than 2^63-1 ns is an error) and returns seconds.
-- format(seconds) prints like Go's time.Duration.String() ("1h2m3.5s", "300ms", "0s").
-- human(seconds) and short_human(seconds) are k8s.io/apimachinery/pkg/util/duration's
-- HumanDuration ("5m", "2d3h", what kubectl prints in AGE columns) and ShortHumanDuration.
-- parse_time("2024-05-01T10:00:00Z") reads an RFC 3339 timestamp (metadata.creationTimestamp)
-- into Unix seconds without os.time's local-time interpretation, and age() combines both.
--
-- Precision: durations are computed in integer nanoseconds held in doubles, exact while
-- |ns| <= 2^53 (about 104 days); beyond that the nearest double is used (Go's full range,
-- about 292 years, keeps microsecond precision). Seconds are returned as doubles.
--
-- Depends on string and math, and os.time for age()'s default "now" (all allowed in the
-- policy sandbox). Callers: policies (timeouts, backoff, TTLs), controllers, operator scripts.

local type, tonumber, error = type, tonumber, error
local string_sub, string_byte, string_match, string_format =
      string.sub, string.byte, string.match, string.format
local math_floor, math_abs = math.floor, math.abs
local os_time = os.time

local M = {}

local NS = 1
local US = 1000 * NS
local MS = 1000 * US
local SEC = 1000 * MS
local MIN = 60 * SEC
local HOUR = 60 * MIN

local UNITS = {
    ns = NS, us = US, ["\194\181s"] = US, ["\206\188s"] = US, ms = MS,
    s = SEC, m = MIN, h = HOUR,
}

local TWO63 = 9223372036854775808          -- 2^63, exact in a double
local FRAC_LIMIT = "922337203685477580"    -- (2^63-1)/10: Go stops taking fraction digits here

local function invalid(orig)
    return nil, 'time: invalid duration "' .. orig .. '"'
end

-- Compares two unsigned digit strings numerically (leading zeros allowed).
local function digits_gt(a, b)
    a = string_match(a, "^0*(.-)$")
    b = string_match(b, "^0*(.-)$")
    if #a ~= #b then
        return #a > #b
    end
    return a > b
end

-- Parses a Go duration string into integer nanoseconds (a double; see the precision note).
-- Returns nil, reason with Go's error text on bad input.
function M.parse_ns(s)
    if type(s) ~= "string" then
        return nil, "duration must be a string, got " .. type(s)
    end
    local orig, pos, n, neg = s, 1, #s, false
    local c = string_sub(s, 1, 1)
    if c == "-" or c == "+" then
        neg, pos = c == "-", 2
    end
    if string_sub(s, pos) == "0" then
        return 0
    end
    if pos > n then
        return invalid(orig)
    end
    local total = 0
    while pos <= n do
        local b = string_byte(s, pos)
        if not (b == 46 or (b >= 48 and b <= 57)) then
            return invalid(orig)
        end
        local int = string_match(s, "^%d*", pos)
        pos = pos + #int
        if #int > 0 and digits_gt(int, "9223372036854775808") then
            return invalid(orig)          -- Go's leadingInt overflow
        end
        -- Fraction: Go's leadingFraction keeps digits until the value would pass 2^63, and
        -- counts each kept digit in the scale (leading zeros too); later digits are consumed
        -- but ignored. sig holds the kept digits without leading zeros (at most 19), so this
        -- stays linear however long the input is.
        local sig, nfrac, post = "", 0, false
        if string_sub(s, pos, pos) == "." then
            local fd = string_match(s, "^%d*", pos + 1)
            pos = pos + 1 + #fd
            post = #fd > 0
            for i = 1, #fd do
                if digits_gt(sig, FRAC_LIMIT) then
                    break
                end
                local y = sig .. string_sub(fd, i, i)
                if y == "0" then
                    y = ""
                end
                if digits_gt(y, "9223372036854775808") then
                    break
                end
                sig, nfrac = y, nfrac + 1
            end
        end
        if #int == 0 and not post then
            return invalid(orig)
        end
        local ustart = pos
        while pos <= n do
            local ub = string_byte(s, pos)
            if ub == 46 or (ub >= 48 and ub <= 57) then
                break
            end
            pos = pos + 1
        end
        if pos == ustart then
            return nil, 'time: missing unit in duration "' .. orig .. '"'
        end
        local uname = string_sub(s, ustart, pos - 1)
        local unit = UNITS[uname]
        if not unit then
            return nil, 'time: unknown unit "' .. uname .. '" in duration "' .. orig .. '"'
        end
        local v = #int > 0 and tonumber(int) or 0
        if v > TWO63 / unit then
            return invalid(orig)
        end
        v = v * unit
        if sig ~= "" then
            local f = tonumber(sig)
            if f > 0 then
                -- Same float expression as Go, so fractions of hours round the same way
                -- (10^nfrac may be inf for absurdly many leading zeros: adds 0, as in Go).
                v = v + math_floor(f * (unit / 10 ^ nfrac))
                if v > TWO63 then
                    return invalid(orig)
                end
            end
        end
        total = total + v
        if total > TWO63 then
            return invalid(orig)
        end
    end
    if neg then
        return -total
    end
    -- Go's limit is 2^63-1 ns, which a double cannot hold (it rounds to 2^63), so the
    -- positive side also rejects the last few hundred ns of Go's range.
    if total >= TWO63 then
        return invalid(orig)
    end
    return total
end

-- Parses a Go duration string into seconds (a double): "1m30s" -> 90, "300ms" -> 0.3,
-- "-1.5h" -> -5400. Returns nil, reason on bad input.
function M.parse(s)
    local ns, err = M.parse_ns(s)
    if not ns then
        return nil, err
    end
    return ns / SEC
end

-- Fraction digits of u / 10^prec without trailing zeros (and without the dot when zero).
local function frac_part(u, prec)
    local p = 10 ^ prec
    local f = u % p
    if f == 0 then
        return "", math_floor(u / p)
    end
    local digits = string_format("%0" .. prec .. ".0f", f)
    digits = string_match(digits, "^(.-)0*$")
    return "." .. digits, math_floor(u / p)
end

-- Go's time.Duration.String() for integer nanoseconds: 5400e9 -> "1h30m0s", 1.5e6 -> "1.5ms".
function M.format_ns(ns)
    if type(ns) ~= "number" or ns ~= ns then
        error("duration.format_ns: expected a number", 2)
    end
    local neg = ns < 0
    local u = math_floor(math_abs(ns) + 0.5)
    local out
    if u < SEC then
        if u == 0 then
            return "0s"
        end
        local unit, prec
        if u < US then
            unit, prec = "ns", 0
        elseif u < MS then
            unit, prec = "\194\181s", 3
        else
            unit, prec = "ms", 6
        end
        local frac, whole = "", u
        if prec > 0 then
            frac, whole = frac_part(u, prec)
        end
        out = string_format("%.0f", whole) .. frac .. unit
    else
        local frac, secs = frac_part(u, 9)
        local mins = math_floor(secs / 60)
        out = string_format("%.0f", secs % 60) .. frac .. "s"
        if mins > 0 then
            local hours = math_floor(mins / 60)
            out = string_format("%.0f", mins % 60) .. "m" .. out
            if hours > 0 then
                out = string_format("%.0f", hours) .. "h" .. out
            end
        end
    end
    return neg and ("-" .. out) or out
end

-- Go's time.Duration.String() for seconds: 90 -> "1m30s", 0.3 -> "300ms", 0 -> "0s".
-- The seconds are rounded to the nearest nanosecond first.
function M.format(seconds)
    if type(seconds) ~= "number" or seconds ~= seconds then
        error("duration.format: expected a number of seconds", 2)
    end
    return M.format_ns(seconds * SEC)
end

-- Whole seconds toward zero, like Go's int(d.Seconds()).
local function trunc(x)
    if x < 0 then
        return -math_floor(-x)
    end
    return math_floor(x)
end

local function idiv(a, b)
    return math_floor(a / b)
end

-- kubectl's age format (HumanDuration): 90 -> "90s", 300 -> "5m", 183600 -> "2d3h".
-- Less than -1s gives "<invalid>", -1s..0 gives "0s" (clock skew tolerance, as in kube).
function M.human(seconds)
    if type(seconds) ~= "number" or seconds ~= seconds then
        error("duration.human: expected a number of seconds", 2)
    end
    local s = trunc(seconds)
    if s < -1 then
        return "<invalid>"
    elseif s < 0 then
        return "0s"
    elseif s < 60 * 2 then
        return string_format("%ds", s)
    end
    local minutes = idiv(s, 60)
    if minutes < 10 then
        local sec = s % 60
        if sec == 0 then
            return string_format("%dm", minutes)
        end
        return string_format("%dm%ds", minutes, sec)
    elseif minutes < 60 * 3 then
        return string_format("%dm", minutes)
    end
    local hours = idiv(s, 3600)
    if hours < 8 then
        local m = minutes % 60
        if m == 0 then
            return string_format("%dh", hours)
        end
        return string_format("%dh%dm", hours, m)
    elseif hours < 48 then
        return string_format("%dh", hours)
    elseif hours < 24 * 8 then
        local h = hours % 24
        if h == 0 then
            return string_format("%dd", idiv(hours, 24))
        end
        return string_format("%dd%dh", idiv(hours, 24), h)
    elseif hours < 24 * 365 * 2 then
        return string_format("%dd", idiv(hours, 24))
    elseif hours < 24 * 365 * 8 then
        local dy = idiv(hours, 24) % 365
        if dy == 0 then
            return string_format("%dy", idiv(hours, 24 * 365))
        end
        return string_format("%dy%dd", idiv(hours, 24 * 365), dy)
    end
    return string_format("%.0fy", idiv(idiv(hours, 24), 365))
end

-- ShortHumanDuration, one unit only: 59 -> "59s", 90 -> "1m", 7200 -> "2h", 90000 -> "1d".
function M.short_human(seconds)
    if type(seconds) ~= "number" or seconds ~= seconds then
        error("duration.short_human: expected a number of seconds", 2)
    end
    local s = trunc(seconds)
    if s < -1 then
        return "<invalid>"
    elseif s < 0 then
        return "0s"
    elseif s < 60 then
        return string_format("%ds", s)
    end
    local minutes = idiv(s, 60)
    if minutes < 60 then
        return string_format("%dm", minutes)
    end
    local hours = idiv(s, 3600)
    if hours < 24 then
        return string_format("%dh", hours)
    elseif hours < 24 * 365 then
        return string_format("%dd", idiv(hours, 24))
    end
    return string_format("%.0fy", idiv(hours, 24 * 365))
end

-- Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
local function days_from_civil(y, m, d)
    if m <= 2 then
        y = y - 1
    end
    local era = idiv(y, 400)
    local yoe = y - era * 400
    local mp = (m + 9) % 12
    local doy = idiv(153 * mp + 2, 5) + d - 1
    local doe = yoe * 365 + idiv(yoe, 4) - idiv(yoe, 100) + doy
    return era * 146097 + doe - 719468
end

local MONTH_DAYS = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }

-- Unix seconds (a double, with any fraction) of an RFC 3339 timestamp such as
-- "2024-05-01T10:00:00Z" or "2024-05-01T12:00:00.5+02:00". nil, reason when malformed.
function M.parse_time(s)
    if type(s) ~= "string" then
        return nil, "timestamp must be a string, got " .. type(s)
    end
    local y, mo, d, h, mi, sec, rest =
        string_match(s, "^(%d%d%d%d)%-(%d%d)%-(%d%d)[Tt](%d%d):(%d%d):(%d%d)(.*)$")
    if not y then
        return nil, 'invalid RFC 3339 timestamp "' .. s .. '"'
    end
    local frac, zone = string_match(rest, "^(%.%d+)(.*)$")
    if not frac then
        frac, zone = "", rest
    end
    local offset
    if zone == "Z" or zone == "z" then
        offset = 0
    else
        local sign, zh, zm = string_match(zone, "^([+-])(%d%d):(%d%d)$")
        if not sign then
            return nil, 'invalid RFC 3339 timestamp "' .. s .. '" (bad zone)'
        end
        zh, zm = tonumber(zh), tonumber(zm)
        if zh > 23 or zm > 59 then
            return nil, 'invalid RFC 3339 timestamp "' .. s .. '" (bad zone)'
        end
        offset = (zh * 60 + zm) * 60
        if sign == "-" then
            offset = -offset
        end
    end
    y, mo, d, h, mi, sec = tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi), tonumber(sec)
    local leap = (y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0
    if mo < 1 or mo > 12 or d < 1 or d > MONTH_DAYS[mo] or (mo == 2 and d == 29 and not leap)
       or h > 23 or mi > 59 or sec > 59 then
        return nil, 'invalid RFC 3339 timestamp "' .. s .. '" (field out of range)'
    end
    local t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset
    if frac ~= "" then
        t = t + tonumber("0" .. frac)
    end
    return t
end

-- Age column text for a timestamp (RFC 3339 string or Unix seconds) as kubectl prints it:
-- human(now - t). now defaults to os.time(). nil, reason when the timestamp is malformed.
function M.age(ts, now)
    local t, err = ts, nil
    if type(ts) == "string" then
        t, err = M.parse_time(ts)
        if not t then
            return nil, err
        end
    elseif type(ts) ~= "number" then
        return nil, "age: expected an RFC 3339 string or Unix seconds, got " .. type(ts)
    end
    return M.human((now or os_time()) - t)
end

return M
