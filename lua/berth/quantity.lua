-- berth.quantity: Kubernetes resource quantities ("250m", "1.5", "64Mi", "1e3") in pure Lua.
--
-- Parses with the rules of k8s.io/apimachinery/pkg/api/resource.ParseQuantity: optional sign,
-- digits with an optional fraction, then one suffix: n u m "" k M G T P E (decimal SI),
-- Ki Mi Gi Ti Pi Ei (binary SI) or e<int>/E<int> (decimal exponent). Values are rounded up
-- (away from zero) to a multiple of 1n, binary-suffixed values are capped at 2^63-1, and the
-- canonical string is the one kube's Quantity.String() prints ("1.5" -> "1500m",
-- "1024Mi" -> "1Gi", "1000M" -> "1G").
--
-- Precision: LuaJIT numbers are doubles, so a parsed quantity is kept as an exact decimal
-- (digit string + power of ten) and compare/add/sub/format work on those digits exactly.
-- Only the conversions to Lua numbers (parse_milli, parse_value, milli, value) can lose
-- precision, and they refuse to: a result whose magnitude exceeds 2^53 (MAX_EXACT,
-- 9007199254740992) returns nil, "out of range". So milli-units are exact up to ~9.007e12
-- cores and byte counts up to 8 PiB.
--
-- Deliberate differences from kube (stricter, never looser): a quantity must contain at least
-- one digit ("Mi", ".", "-" are rejected; kube's parser reads them as 0), and values above
-- 10^64 are rejected instead of being carried as huge decimals.
--
-- Depends on string, table and math only (loads in the policy sandbox). Callers: scheduler
-- policies (fit of requests vs allocatable), controllers, operator scripts.

local type, tostring, tonumber, error = type, tostring, tonumber, error
local string_sub, string_byte, string_char, string_rep, string_match, string_format =
      string.sub, string.byte, string.char, string.rep, string.match, string.format
local table_concat = table.concat
local math_floor, math_abs = math.floor, math.abs

local M = {}

M.MAX_EXACT = 9007199254740992          -- 2^53: largest magnitude returned as a Lua number
M.MAX_INT_DIGITS = 64                   -- integer digits accepted by parse
local MAX_EXACT_DIGITS = "9007199254740992"
local MAX_BINARY = "9223372036854775807" -- kube caps BinarySI values at 2^63-1

-- Kubernetes' own error strings (resource.ErrFormatWrong, resource.ErrSuffix).
local ERR_FORMAT = "quantities must match the regular expression " ..
                   "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
local ERR_SUFFIX = "unable to parse quantity's suffix"

local DEC_SUFFIX = { [""] = 0, n = -9, u = -6, m = -3, k = 3, M = 6, G = 9, T = 12, P = 15, E = 18 }
local BIN_SUFFIX = { Ki = 10, Mi = 20, Gi = 30, Ti = 40, Pi = 50, Ei = 60 }
local DEC_NAME = { [-9] = "n", [-6] = "u", [-3] = "m", [0] = "", [3] = "k", [6] = "M",
                   [9] = "G", [12] = "T", [15] = "P", [18] = "E" }
local BIN_NAME = { [0] = "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei" }

local FORMATS = { DecimalSI = true, BinarySI = true, DecimalExponent = true }

---------------------------------------------------------------------------------------------
-- Unsigned decimal digit strings ("0" is zero, no leading zeros otherwise)
---------------------------------------------------------------------------------------------

local function d_norm(s)
    local t = string_match(s, "^0*(%d*)$")
    if t == "" then
        return "0"
    end
    return t
end

local function d_cmp(a, b)
    if #a ~= #b then
        return #a < #b and -1 or 1
    end
    if a == b then
        return 0
    end
    return a < b and -1 or 1
end

local function d_add(a, b)
    local out, carry = {}, 0
    local i, j = #a, #b
    while i > 0 or j > 0 or carry > 0 do
        local x = (i > 0 and string_byte(a, i) - 48 or 0) + (j > 0 and string_byte(b, j) - 48 or 0) + carry
        carry = x >= 10 and 1 or 0
        out[#out + 1] = string_char(48 + x % 10)
        i, j = i - 1, j - 1
    end
    local n = #out
    for k = 1, math_floor(n / 2) do
        out[k], out[n - k + 1] = out[n - k + 1], out[k]
    end
    return d_norm(table_concat(out))
end

-- a - b for a >= b.
local function d_sub(a, b)
    local out, borrow = {}, 0
    local i, j = #a, #b
    while i > 0 do
        local x = string_byte(a, i) - 48 - (j > 0 and string_byte(b, j) - 48 or 0) - borrow
        if x < 0 then
            x, borrow = x + 10, 1
        else
            borrow = 0
        end
        out[#out + 1] = string_char(48 + x)
        i, j = i - 1, j - 1
    end
    local n = #out
    for k = 1, math_floor(n / 2) do
        out[k], out[n - k + 1] = out[n - k + 1], out[k]
    end
    return d_norm(table_concat(out))
end

-- a * k for a small integer k (k * 10 + carry stays far below 2^53).
local function d_mul_small(a, k)
    local out, carry = {}, 0
    for i = #a, 1, -1 do
        local x = (string_byte(a, i) - 48) * k + carry
        out[#out + 1] = string_char(48 + x % 10)
        carry = math_floor(x / 10)
    end
    while carry > 0 do
        out[#out + 1] = string_char(48 + carry % 10)
        carry = math_floor(carry / 10)
    end
    local n = #out
    for i = 1, math_floor(n / 2) do
        out[i], out[n - i + 1] = out[n - i + 1], out[i]
    end
    return d_norm(table_concat(out))
end

-- Quotient and remainder of a / k for a small integer k.
local function d_divmod_small(a, k)
    local out, rem = {}, 0
    for i = 1, #a do
        local x = rem * 10 + string_byte(a, i) - 48
        out[i] = string_char(48 + math_floor(x / k))
        rem = x % k
    end
    return d_norm(table_concat(out)), rem
end

---------------------------------------------------------------------------------------------
-- Quantity values: { neg = bool, mant = digits, exp = integer, format = "DecimalSI" | ... }
-- meaning (-1)^neg * mant * 10^exp; mant has no trailing zeros except for zero itself,
-- which is mant "0", exp 0, neg false.
---------------------------------------------------------------------------------------------

local function make(neg, mant, exp, format)
    mant = d_norm(mant)
    if mant == "0" then
        return { neg = false, mant = "0", exp = 0, format = format }
    end
    local trimmed = string_match(mant, "^(%d-)0*$")
    exp = exp + (#mant - #trimmed)
    return { neg = neg, mant = trimmed, exp = exp, format = format }
end

-- Digits of |q| written at power 10^e (e <= q.exp).
local function digits_at(q, e)
    return q.mant .. string_rep("0", q.exp - e)
end

local function mag_cmp(x, y)
    if x.mant == "0" or y.mant == "0" then
        return d_cmp(x.mant, y.mant)
    end
    -- Compare orders of magnitude first so that no huge zero padding is ever built.
    local ox, oy = #x.mant + x.exp, #y.mant + y.exp
    if ox ~= oy then
        return ox < oy and -1 or 1
    end
    local e = x.exp < y.exp and x.exp or y.exp
    return d_cmp(digits_at(x, e), digits_at(y, e))
end

local function q_cmp(x, y)
    local sx = x.mant == "0" and 0 or (x.neg and -1 or 1)
    local sy = y.mant == "0" and 0 or (y.neg and -1 or 1)
    if sx ~= sy then
        return sx < sy and -1 or 1
    end
    local c = mag_cmp(x, y)
    return sx < 0 and -c or c
end

local function q_add(x, y, format)
    if y.mant == "0" then
        return make(x.neg, x.mant, x.exp, format)
    end
    if x.mant == "0" then
        return make(y.neg, y.mant, y.exp, format)
    end
    local e = x.exp < y.exp and x.exp or y.exp
    local a, b = digits_at(x, e), digits_at(y, e)
    if x.neg == y.neg then
        return make(x.neg, d_add(a, b), e, format)
    end
    local c = d_cmp(a, b)
    if c == 0 then
        return make(false, "0", 0, format)
    elseif c > 0 then
        return make(x.neg, d_sub(a, b), e, format)
    end
    return make(y.neg, d_sub(b, a), e, format)
end

---------------------------------------------------------------------------------------------
-- Parsing
---------------------------------------------------------------------------------------------

-- Parses a quantity string. Returns a quantity table {neg, mant, exp, format} or nil, reason.
-- The table is plain data: pass it back to format/compare/add/milli/value.
function M.parse(s)
    if type(s) ~= "string" then
        return nil, "quantity must be a string, got " .. type(s)
    end
    if s == "" then
        return nil, ERR_FORMAT
    end
    local pos, neg = 1, false
    local c = string_sub(s, 1, 1)
    if c == "-" then
        neg, pos = true, 2
    elseif c == "+" then
        pos = 2
    end
    local num = string_match(s, "^%d*", pos)
    pos = pos + #num
    local denom = ""
    if string_sub(s, pos, pos) == "." then
        denom = string_match(s, "^%d*", pos + 1)
        pos = pos + 1 + #denom
    end
    if num == "" and denom == "" then
        return nil, ERR_FORMAT
    end
    local letters = string_match(s, "^[eEinumkKMGTP]*", pos)
    local sign = string_match(s, "^[-+]?", pos + #letters)
    local edigits = string_match(s, "^%d*", pos + #letters + #sign)
    if pos + #letters + #sign + #edigits <= #s then
        return nil, ERR_FORMAT
    end
    local suffix = letters .. sign .. edigits

    local format, exp10, exp2 = nil, 0, 0
    if DEC_SUFFIX[suffix] then
        format, exp10 = "DecimalSI", DEC_SUFFIX[suffix]
    elseif BIN_SUFFIX[suffix] then
        format, exp2 = "BinarySI", BIN_SUFFIX[suffix]
    else
        -- e<int> / E<int>: the rest must be what Go's strconv.ParseInt(_, 10, 64) accepts.
        local first, rest = string_sub(suffix, 1, 1), string_sub(suffix, 2)
        local esign, edig = string_match(rest, "^([-+]?)(%d+)$")
        if (first ~= "e" and first ~= "E") or not edig then
            return nil, ERR_SUFFIX
        end
        edig = d_norm(edig)
        if d_cmp(edig, MAX_BINARY) > 0 then
            return nil, ERR_SUFFIX
        end
        format = "DecimalExponent"
        -- Beyond 10^6 either way the value is out of range or rounds to 1n; clamp so the
        -- arithmetic below stays on small integers.
        exp10 = #edig > 7 and 10000000 or tonumber(edig)
        if esign == "-" then
            exp10 = -exp10
        end
    end

    local mant, exp = d_norm(num .. denom), exp10 - #denom
    if mant == "0" then
        return make(false, "0", 0, format)
    end
    for _ = 1, exp2 / 10 do
        mant = d_mul_small(mant, 1024)
    end
    if #mant + exp > M.MAX_INT_DIGITS then
        return nil, "quantity too large (more than " .. M.MAX_INT_DIGITS .. " integer digits)"
    end
    -- Round up (away from zero) to a whole number of nano units: asking for a tiny amount of
    -- a resource must still ask for some.
    if exp < -9 then
        local drop = -9 - exp
        if drop >= #mant then
            mant = "1"
        else
            local keep, rest = string_sub(mant, 1, #mant - drop), string_sub(mant, #mant - drop + 1)
            if string_match(rest, "[1-9]") then
                keep = d_add(keep, "1")
            end
            mant = keep
        end
        exp = -9
    end
    local q = make(neg, mant, exp, format)
    if format == "BinarySI" then
        if mag_cmp(q, make(false, MAX_BINARY, 0)) > 0 then
            q = make(neg, MAX_BINARY, 0, format)
        end
        if q.exp < 0 and #q.mant + q.exp <= 0 then
            q.format = "DecimalSI"   -- kube: a binary value below 1 is shown in decimal
        end
    end
    return q
end

local function coerce(v)
    if type(v) == "table" and type(v.mant) == "string" then
        return v
    end
    if type(v) == "number" then
        return M.parse(tostring(v))
    end
    return M.parse(v)
end

---------------------------------------------------------------------------------------------
-- Conversions to Lua numbers
---------------------------------------------------------------------------------------------

-- |q| scaled to 10^e, rounded away from zero, as a Lua number (nil, reason past 2^53).
local function scaled(q, e)
    if q.mant == "0" then
        return 0
    end
    local digits
    if q.exp >= e then
        if #q.mant + q.exp - e > #MAX_EXACT_DIGITS then
            return nil, "out of range: magnitude above 2^53"
        end
        digits = digits_at(q, e)
    else
        local drop = e - q.exp
        if drop >= #q.mant then
            digits = "1"
        else
            digits = string_sub(q.mant, 1, #q.mant - drop)
            if string_match(string_sub(q.mant, #q.mant - drop + 1), "[1-9]") then
                digits = d_add(digits, "1")
            end
        end
    end
    if d_cmp(digits, MAX_EXACT_DIGITS) > 0 then
        return nil, "out of range: magnitude above 2^53"
    end
    local n = tonumber(digits)
    return q.neg and -n or n
end

-- Integer milli-units of a parsed quantity, rounded up (away from zero) like MilliValue().
function M.milli(q)
    return scaled(q, -3)
end

-- Integer units of a parsed quantity, rounded up (away from zero) like Value().
function M.value(q)
    return scaled(q, 0)
end

-- parse + milli: "250m" -> 250, "1.5" -> 1500, "0.1m" -> 1. nil, reason on bad input.
function M.parse_milli(s)
    local q, err = coerce(s)
    if not q then
        return nil, err
    end
    return scaled(q, -3)
end

-- parse + value: "64Mi" -> 67108864, "0.5" -> 1, "1k" -> 1000. nil, reason on bad input.
function M.parse_value(s)
    local q, err = coerce(s)
    if not q then
        return nil, err
    end
    return scaled(q, 0)
end

---------------------------------------------------------------------------------------------
-- Formatting
---------------------------------------------------------------------------------------------

-- Canonical string of a parsed quantity, as kube's Quantity.String() prints it.
function M.format(q)
    if type(q) ~= "table" or type(q.mant) ~= "string" then
        error("quantity.format: expected a parsed quantity", 2)
    end
    if q.mant == "0" then
        return "0"
    end
    local sign = q.neg and "-" or ""
    local format = q.format or "DecimalSI"
    if not FORMATS[format] then
        format = "DecimalExponent"
    end
    if format == "BinarySI" then
        if mag_cmp(q, make(false, "1024", 0)) < 0 or q.exp < 0 then
            format = "DecimalSI"   -- small or fractional: binary would round, show decimal
        else
            local int, k = digits_at(q, 0), 0
            while k < 6 do
                local quot, rem = d_divmod_small(int, 1024)
                if rem ~= 0 then
                    break
                end
                int, k = quot, k + 1
            end
            return sign .. int .. BIN_NAME[k]
        end
    end
    local mant, exp = q.mant, q.exp
    local r = exp % 3            -- Lua's % is floored: r is 0, 1 or 2 for negative exp too
    if r ~= 0 then
        mant, exp = mant .. string_rep("0", r), exp - r
    end
    local suffix
    if format == "DecimalSI" and DEC_NAME[exp] then
        suffix = DEC_NAME[exp]
    elseif exp == 0 then
        suffix = ""
    else
        suffix = "e" .. exp      -- DecimalExponent, or DecimalSI beyond E (kube prints 1e21)
    end
    return sign .. mant .. suffix
end

-- parse + format: canonical("1.5") -> "1500m", canonical("1024Mi") -> "1Gi".
function M.canonical(s)
    local q, err = coerce(s)
    if not q then
        return nil, err
    end
    return M.format(q)
end

local function integer_digits(n, what)
    if type(n) ~= "number" or n ~= n or math_floor(n) ~= n or math_abs(n) > M.MAX_EXACT then
        return nil, what .. ": expected an integer of magnitude at most 2^53"
    end
    return string_format("%.0f", math_abs(n))
end

-- Quantity string for an integer count of milli-units (NewMilliQuantity(n, DecimalSI)):
-- 1500 -> "1500m", 2000 -> "2", 1 -> "1m".
function M.format_milli(n)
    local d, err = integer_digits(n, "quantity.format_milli")
    if not d then
        return nil, err
    end
    return M.format(make(n < 0, d, -3, "DecimalSI"))
end

-- Quantity string for an integer count of units (NewQuantity(n, format)); format is
-- "DecimalSI" (default), "BinarySI" or "DecimalExponent": 1024, "BinarySI" -> "1Ki".
function M.format_value(n, format)
    local d, err = integer_digits(n, "quantity.format_value")
    if not d then
        return nil, err
    end
    format = format or "DecimalSI"
    if not FORMATS[format] then
        return nil, "quantity.format_value: unknown format '" .. tostring(format) .. "'"
    end
    return M.format(make(n < 0, d, 0, format))
end

---------------------------------------------------------------------------------------------
-- Arithmetic and comparison (exact, on strings or parsed quantities)
---------------------------------------------------------------------------------------------

-- -1, 0 or 1 as a < b, a == b, a > b ("1Gi" vs "1G" -> 1). nil, reason on bad input.
function M.compare(a, b)
    local x, err = coerce(a)
    if not x then
        return nil, err
    end
    local y, err2 = coerce(b)
    if not y then
        return nil, err2
    end
    return q_cmp(x, y)
end

-- a + b as a canonical string, in a's format (b's when a is zero), like kube's Add.
-- Returns also the parsed result as a second value.
function M.add(a, b)
    local x, err = coerce(a)
    if not x then
        return nil, err
    end
    local y, err2 = coerce(b)
    if not y then
        return nil, err2
    end
    local r = q_add(x, y, x.mant == "0" and y.format or x.format)
    return M.format(r), r
end

-- a - b as a canonical string, in a's format (b's when a is zero), like kube's Sub.
-- Returns also the parsed result as a second value.
function M.sub(a, b)
    local x, err = coerce(a)
    if not x then
        return nil, err
    end
    local y, err2 = coerce(b)
    if not y then
        return nil, err2
    end
    local ny = make(not y.neg, y.mant, y.exp, y.format)
    local r = q_add(x, ny, x.mant == "0" and y.format or x.format)
    return M.format(r), r
end

-- Sum of a list of quantities (strings or parsed) as a canonical string, plus the parsed
-- result. An empty list sums to "0". nil, reason names the first bad element.
function M.sum(list)
    local acc = make(false, "0", 0, "DecimalSI")
    for i = 1, #list do
        local y, err = coerce(list[i])
        if not y then
            return nil, "element " .. i .. ": " .. err
        end
        acc = q_add(acc, y, acc.mant == "0" and y.format or acc.format)
    end
    return M.format(acc), acc
end

-- -1, 0 or 1: the sign of a quantity (string or parsed). nil, reason on bad input.
function M.sign(a)
    local x, err = coerce(a)
    if not x then
        return nil, err
    end
    if x.mant == "0" then
        return 0
    end
    return x.neg and -1 or 1
end

return M
