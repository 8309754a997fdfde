-- berth.plugins.cron: cron schedules as kube's CronJob controller reads them
-- (github.com/robfig/cron/v3 ParseStandard), and the times they fire, in pure Lua.
--
-- Provides parse(text) -> schedule | nil, reason; next(s, t) (first firing strictly after t);
-- prev(s, t) (last firing at or before t); most_recent(s, earliest, now) (kube's
-- mostRecentScheduleTime: the last firing in (earliest, now], with an approximate count of
-- the firings missed); zone(name) (the fixed UTC offsets berth knows: UTC and its aliases,
-- Etc/GMT+-N); calendar helpers (days_from_civil, civil_from_days) and rfc3339(t, offset).
-- Times are unix seconds (numbers); schedules fire on whole minutes.
--
-- Grammar (robfig's standard parser, which kube uses): five fields minute hour
-- day-of-month month day-of-week separated by blanks; each field a comma list of "*" or "?",
-- "a", "a-b", with an optional "/step" ("a/step" means a-max/step); months JAN-DEC and days
-- SUN-SAT by name, any case; day-of-week 0-6 (7 is refused, as robfig does). Descriptors
-- @yearly (@annually), @monthly, @weekly, @daily (@midnight), @hourly and "@every <Go
-- duration>" (fires every d after the previous time, d rounded down to whole seconds, at
-- least 1 s). "TZ=..."/"CRON_TZ=..." prefixes are refused: kube rejects them since 1.27 in
-- favour of spec.timeZone.
--
-- Day matching is Vixie cron's: when both day-of-month and day-of-week are restricted, a
-- day matches if EITHER does; when one of them is "*" (or "?"), only the other counts. As in
-- robfig, a field counts as "*" only when it starts with "*"/"?" without a step > 1: "*/2"
-- in day-of-week is a restriction (Vixie treats it as "*"; kube does not).
-- Depends on berth.duration (for @every). Sandbox-safe. Tested by t/lua/test_plugin_cron.lua.

local duration = require("berth.duration")

local type, tonumber, pairs, ipairs, error = type, tonumber, pairs, ipairs, error
local math_floor = math.floor
local string_format, string_lower, string_match = string.format, string.lower, string.match

local M = {}

-- How far next/prev search before giving up (robfig gives up after five years).
M.SEARCH_YEARS = 5

---------------------------------------------------------------------------------------------
-- Calendar (proleptic Gregorian, UTC; Howard Hinnant's days_from_civil / civil_from_days)
---------------------------------------------------------------------------------------------

-- Days since 1970-01-01 of year y, month m (1-12), day d.
function M.days_from_civil(y, m, d)
    if m <= 2 then
        y = y - 1
    end
    local era = math_floor(y / 400)
    local yoe = y - era * 400
    local mp = (m + 9) % 12
    local doy = math_floor((153 * mp + 2) / 5) + d - 1
    local doe = yoe * 365 + math_floor(yoe / 4) - math_floor(yoe / 100) + doy
    return era * 146097 + doe - 719468
end

-- Year, month (1-12), day (1-31) of a day number since 1970-01-01.
function M.civil_from_days(z)
    z = z + 719468
    local era = math_floor(z / 146097)
    local doe = z - era * 146097
    local yoe = math_floor((doe - math_floor(doe / 1460) + math_floor(doe / 36524) - math_floor(doe / 146096)) / 365)
    local y = yoe + era * 400
    local doy = doe - (365 * yoe + math_floor(yoe / 4) - math_floor(yoe / 100))
    local mp = math_floor((5 * doy + 2) / 153)
    local d = doy - math_floor((153 * mp + 2) / 5) + 1
    local m = mp < 10 and mp + 3 or mp - 9
    if m <= 2 then
        y = y + 1
    end
    return y, m, d
end

function M.is_leap(y)
    return (y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0
end

-- Day of week (0 = Sunday) of a day number: 1970-01-01 was a Thursday.
function M.weekday(days)
    return (days + 4) % 7
end

-- RFC 3339 of unix seconds t (whole seconds) shown at a fixed UTC offset (seconds; 0 or
-- nil: "Z"), as Go's time.Format(time.RFC3339) prints it in that zone.
function M.rfc3339(t, offset)
    offset = offset or 0
    local lt = math_floor(t) + offset
    local days = math_floor(lt / 86400)
    local sod = lt - days * 86400
    local y, mo, d = M.civil_from_days(days)
    local s = string_format("%04d-%02d-%02dT%02d:%02d:%02d", y, mo, d,
        math_floor(sod / 3600), math_floor(sod % 3600 / 60), sod % 60)
    if offset == 0 then
        return s .. "Z"
    end
    local sign = offset < 0 and "-" or "+"
    local a = offset < 0 and -offset or offset
    return s .. string_format("%s%02d:%02d", sign, math_floor(a / 3600), math_floor(a % 3600 / 60))
end

---------------------------------------------------------------------------------------------
-- Time zones: only fixed offsets (berth carries no tz database)
---------------------------------------------------------------------------------------------

local UTC_NAMES = {
    ["UTC"] = true, ["Etc/UTC"] = true, ["Etc/UCT"] = true, ["UCT"] = true,
    ["Etc/Universal"] = true, ["Universal"] = true, ["Etc/Zulu"] = true, ["Zulu"] = true,
    ["GMT"] = true, ["Etc/GMT"] = true, ["Etc/GMT0"] = true, ["Etc/GMT+0"] = true,
    ["Etc/GMT-0"] = true, ["GMT0"] = true, ["Etc/Greenwich"] = true, ["Greenwich"] = true,
}

-- The UTC offset in seconds of a zone name berth can compute without a tz database: UTC
-- and its aliases (0) and the POSIX-style Etc/GMT+N (N hours WEST of Greenwich, so -N h;
-- N 1..12) and Etc/GMT-N (+N h, N 1..14). Other names: nil, reason.
function M.zone(name)
    if type(name) ~= "string" then
        return nil, "time zone must be a string"
    end
    if UTC_NAMES[name] then
        return 0
    end
    local sign, n = string_match(name, "^Etc/GMT([+-])(%d%d?)$")
    n = tonumber(n)
    if sign == "+" and n >= 1 and n <= 12 then
        return -n * 3600
    elseif sign == "-" and n and n >= 1 and n <= 14 then
        return n * 3600
    end
    return nil, "unknown time zone " .. name
end

---------------------------------------------------------------------------------------------
-- Parsing
---------------------------------------------------------------------------------------------

local MONTHS = { jan = 1, feb = 2, mar = 3, apr = 4, may = 5, jun = 6, jul = 7, aug = 8,
                 sep = 9, oct = 10, nov = 11, dec = 12 }
local DAYS = { sun = 0, mon = 1, tue = 2, wed = 3, thu = 4, fri = 5, sat = 6 }

local FIELDS = {
    { key = "minute", min = 0, max = 59 },
    { key = "hour", min = 0, max = 23 },
    { key = "dom", min = 1, max = 31 },
    { key = "month", min = 1, max = 12, names = MONTHS },
    { key = "dow", min = 0, max = 6, names = DAYS },
}

local function split(s, sep)
    local out = {}
    local start = 1
    while true do
        local i = s:find(sep, start, true)
        if not i then
            out[#out + 1] = s:sub(start)
            return out
        end
        out[#out + 1] = s:sub(start, i - 1)
        start = i + 1
    end
end

local function int_or_name(expr, names)
    if names then
        local v = names[string_lower(expr)]
        if v then
            return v
        end
    end
    if not string_match(expr, "^%d+$") then
        return nil, "failed to parse int from " .. expr
    end
    return tonumber(expr)
end

-- One comma-separated element of a field into set; returns is_star or nil, reason.
local function parse_range(expr, f, set)
    local rs = split(expr, "/")
    local lh = split(rs[1], "-")
    local star = false
    local lo, hi, err
    if lh[1] == "*" or lh[1] == "?" then
        if #lh > 1 then
            return nil, "too many hyphens: " .. expr
        end
        lo, hi, star = f.min, f.max, true
    else
        lo, err = int_or_name(lh[1], f.names)
        if not lo then
            return nil, err
        end
        if #lh == 1 then
            hi = lo
        elseif #lh == 2 then
            hi, err = int_or_name(lh[2], f.names)
            if not hi then
                return nil, err
            end
        else
            return nil, "too many hyphens: " .. expr
        end
    end
    local step = 1
    if #rs == 2 then
        if not string_match(rs[2], "^%d+$") then
            return nil, "failed to parse int from " .. rs[2]
        end
        step = tonumber(rs[2])
        if #lh == 1 and not star then
            hi = f.max          -- "N/step" means "N-max/step"
        end
        if step > 1 then
            star = false
        end
    elseif #rs > 2 then
        return nil, "too many slashes: " .. expr
    end
    if lo < f.min then
        return nil, string_format("beginning of range (%d) below minimum (%d): %s", lo, f.min, expr)
    end
    if hi > f.max then
        return nil, string_format("end of range (%d) above maximum (%d): %s", hi, f.max, expr)
    end
    if lo > hi then
        return nil, string_format("beginning of range (%d) beyond end of range (%d): %s", lo, hi, expr)
    end
    if step == 0 then
        return nil, "step of range should be a positive number: " .. expr
    end
    for v = lo, hi, step do
        set[v] = true
    end
    return star
end

local function parse_field(text, f)
    local set, star = {}, false
    for _, part in ipairs(split(text, ",")) do
        local s, err = parse_range(part, f, set)
        if s == nil then
            return nil, err
        end
        star = star or s
    end
    return set, star
end

local function full(lo, hi)
    local set = {}
    for v = lo, hi do
        set[v] = true
    end
    return set
end

local DESCRIPTORS = {
    ["@yearly"] = "0 0 1 1 *", ["@annually"] = "0 0 1 1 *", ["@monthly"] = "0 0 1 * *",
    ["@weekly"] = "0 0 * * 0", ["@daily"] = "0 0 * * *", ["@midnight"] = "0 0 * * *",
    ["@hourly"] = "0 * * * *",
}

-- Parses a schedule. Returns a table { text, minute, hour, dom, month, dow (sets: value ->
-- true), dom_star, dow_star } or { text, every = seconds }; nil, reason on bad input.
function M.parse(text)
    if type(text) ~= "string" then
        return nil, "schedule must be a string"
    end
    local s = string_match(text, "^%s*(.-)%s*$")
    if s == "" then
        return nil, "empty spec string"
    end
    if string_match(s, "^TZ=") or string_match(s, "^CRON_TZ=") then
        return nil, "TZ or CRON_TZ in the schedule is not supported, use spec.timeZone"
    end
    if s:sub(1, 1) == "@" then
        local every = string_match(s, "^@every%s+(%S+)$")
        if every then
            local d, err = duration.parse(every)
            if not d then
                return nil, "failed to parse duration " .. s .. ": " .. tostring(err)
            end
            d = math_floor(d)
            if d < 1 then
                d = 1
            end
            return { text = text, every = d }
        end
        local expanded = DESCRIPTORS[s]
        if not expanded then
            return nil, "unrecognized descriptor: " .. s
        end
        s = expanded
    end
    local parts = {}
    for w in s:gmatch("%S+") do
        parts[#parts + 1] = w
    end
    if #parts ~= 5 then
        return nil, string_format("expected exactly 5 fields, found %d: %s", #parts, s)
    end
    local sched = { text = text }
    for i, f in ipairs(FIELDS) do
        local set, star = parse_field(parts[i], f)
        if not set then
            return nil, star
        end
        sched[f.key] = set
        sched[f.key .. "_star"] = star
    end
    return sched
end

---------------------------------------------------------------------------------------------
-- Matching and searching (UTC, or a fixed offset applied by the caller)
---------------------------------------------------------------------------------------------

-- robfig's dayMatches: AND when either day field is a star, else OR.
local function day_matches(s, dom, dow)
    local a, b = s.dom[dom] == true, s.dow[dow] == true
    if s.dom_star or s.dow_star then
        return a and b
    end
    return a or b
end

-- Whether a parsed (non-@every) schedule fires at unix time t (seconds must be 0).
function M.matches(s, t)
    if s.every or t % 60 ~= 0 then
        return false
    end
    local m = t / 60
    local days = math_floor(m / 1440)
    local mod = m - days * 1440
    local _, mo, d = M.civil_from_days(days)
    return s.month[mo] == true and day_matches(s, d, M.weekday(days)) and
           s.hour[math_floor(mod / 60)] == true and s.minute[mod % 60] == true
end

-- The first time s fires strictly after t (offset: the zone's fixed UTC offset in seconds,
-- default 0). nil when it never fires within SEARCH_YEARS (e.g. "0 0 30 2 *").
function M.next(s, t, offset)
    offset = offset or 0
    if s.every then
        return math_floor(t) + s.every
    end
    local m = math_floor((t + offset) / 60) + 1      -- minute numbers in the zone's clock
    local limit = M.civil_from_days(math_floor(m / 1440)) + M.SEARCH_YEARS
    while true do
        local days = math_floor(m / 1440)
        local mod = m - days * 1440
        local y, mo, d = M.civil_from_days(days)
        if y > limit then
            return nil
        end
        local h = math_floor(mod / 60)
        if not s.month[mo] then
            if mo == 12 then
                m = M.days_from_civil(y + 1, 1, 1) * 1440
            else
                m = M.days_from_civil(y, mo + 1, 1) * 1440
            end
        elseif not day_matches(s, d, M.weekday(days)) then
            m = (days + 1) * 1440
        elseif not s.hour[h] then
            m = days * 1440 + (h + 1) * 60
        elseif not s.minute[mod % 60] then
            m = m + 1
        else
            return m * 60 - offset
        end
    end
end

-- The last time s fires at or before t (not for @every: nil). nil when none within
-- SEARCH_YEARS before t.
function M.prev(s, t, offset)
    offset = offset or 0
    if s.every then
        return nil
    end
    local m = math_floor((t + offset) / 60)
    local limit = M.civil_from_days(math_floor(m / 1440)) - M.SEARCH_YEARS
    while true do
        local days = math_floor(m / 1440)
        local mod = m - days * 1440
        local y, mo, d = M.civil_from_days(days)
        if y < limit then
            return nil
        end
        local h = math_floor(mod / 60)
        if not s.month[mo] then
            m = M.days_from_civil(y, mo, 1) * 1440 - 1
        elseif not day_matches(s, d, M.weekday(days)) then
            m = days * 1440 - 1
        elseif not s.hour[h] then
            m = days * 1440 + h * 60 - 1
        elseif not s.minute[mod % 60] then
            m = m - 1
        else
            return m * 60 - offset
        end
    end
end

-- kube's mostRecentScheduleTime: the latest firing t with earliest < t <= now, or nil when
-- none is due; second, how many firings fall in (earliest, now] as kube estimates it (from
-- the gap between the first two firings; it only decides the "too many missed" warning).
-- nil, nil, reason when the schedule never fires.
function M.most_recent(s, earliest, now, offset)
    local t1 = M.next(s, earliest, offset)
    if t1 == nil then
        return nil, nil, "the schedule has no time in the next " .. M.SEARCH_YEARS .. " years"
    end
    if now < t1 then
        return nil, 0
    end
    local t2 = M.next(s, t1, offset)
    if t2 == nil or now < t2 then
        return t1, 1
    end
    local between = t2 - t1
    local missed = math_floor((now - t1) / between) + 1
    if s.every then
        return t1 + math_floor((now - t1) / s.every) * s.every, missed
    end
    return M.prev(s, now, offset), missed
end

return M
