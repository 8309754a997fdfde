-- t/lua/test_duration.lua: berth.duration against Go's time.ParseDuration/Duration.String and
-- k8s.io/apimachinery/pkg/util/duration's HumanDuration/ShortHumanDuration.
local t = require("tap")
local d = require("berth.duration")

-- input, seconds, Go's String() of the result
local good = {
    { "300ms", 0.3, "300ms" }, { "1.5h", 5400, "1h30m0s" }, { "2h45m", 9900, "2h45m0s" },
    { "1m30s", 90, "1m30s" }, { "10s", 10, "10s" }, { "-1.5h", -5400, "-1h30m0s" },
    { "0", 0, "0s" }, { "-0", 0, "0s" }, { "+0", 0, "0s" }, { "+5s", 5, "5s" },
    { "1.s", 1, "1s" }, { ".5s", 0.5, "500ms" }, { "1h1h", 7200, "2h0m0s" },
    { "1us", 1e-6, "1\194\181s" }, { "1\194\181s", 1e-6, "1\194\181s" }, { "1\206\188s", 1e-6, "1\194\181s" },
    { "1.5\194\181s", 1.5e-6, "1.5\194\181s" }, { "100ns", 1e-7, "100ns" }, { "0s", 0, "0s" },
    { "1.0000000001s", 1, "1s" }, { "0.000000001s", 1e-9, "1ns" }, { "3.7h", 13320, "3h42m0s" },
    { "1h2m3.5s", 3723.5, "1h2m3.5s" }, { "72h", 259200, "72h0m0s" }, { "2562047h", 9223369200, "2562047h0m0s" },
    { "0.1s", 0.1, "100ms" }, { "1m0.000000001s", 60.000000001, "1m0.000000001s" },
}
for _, c in ipairs(good) do
    local v, err = d.parse(c[1])
    t.is(v, c[2], "parse " .. c[1] .. (err and (" (" .. err .. ")") or ""))
    if v then
        t.is(d.format(v), c[3], "format(parse " .. c[1] .. ")")
    end
end
t.is(d.parse_ns("1.5h"), 5400e9, "parse_ns 1.5h")
t.is(d.parse_ns("-1ns"), -1, "parse_ns -1ns")
t.is(d.parse_ns("-9223372036854775808ns"), -2 ^ 63, "parse_ns minimum")

local bad = {
    { "", "invalid duration" }, { "1", "missing unit" }, { "s", "invalid duration" },
    { ".s", "invalid duration" }, { "-", "invalid duration" }, { "1x", 'unknown unit "x"' },
    { "1.5.5s", "missing unit" }, { "1h 2m", 'unknown unit "h "' }, { " 1s", "invalid duration" },
    { "2562048h", "invalid duration" }, { "9223372036854775808ns", "invalid duration" },
    { "99999999999999999999s", "invalid duration" }, { "1S", 'unknown unit "S"' },
    { "1d", 'unknown unit "d"' }, { "--1s", "invalid duration" },
}
for _, c in ipairs(bad) do
    t.fails("parse rejects " .. string.format("%q", c[1]), c[2], d.parse(c[1]))
    t.fails("parse_ns rejects " .. string.format("%q", c[1]), c[2], d.parse_ns(c[1]))
end
t.fails("parse rejects a number", "must be a string", d.parse(5))

-- format / format_ns
local fmt = {
    { 0, "0s" }, { 0.3, "300ms" }, { 1e-9, "1ns" }, { 1.5e-6, "1.5\194\181s" }, { 0.0015, "1.5ms" },
    { 0.000999999, "999.999\194\181s" }, { 90, "1m30s" }, { 3600, "1h0m0s" }, { 5400.5, "1h30m0.5s" },
    { -5400, "-1h30m0s" }, { 59.999999999, "59.999999999s" }, { 1, "1s" }, { 61, "1m1s" },
    { 1e-10, "0s" }, { -0.25, "-250ms" },
}
for _, c in ipairs(fmt) do
    t.is(d.format(c[1]), c[2], "format " .. tostring(c[1]))
end
t.is(d.format_ns(1500), "1.5\194\181s", "format_ns 1500")
t.is(d.format_ns(-1), "-1ns", "format_ns -1")
t.is(d.format_ns(2 ^ 53), "2501h59m59.254740992s", "format_ns 2^53 exact")
t.raises("format needs a number", "expected a number", d.format, "1s")
t.raises("format_ns needs a number", "expected a number", d.format_ns, nil)

-- human (kubectl AGE)
local human = {
    { -3, "<invalid>" }, { -1.5, "0s" }, { -0.5, "0s" }, { 0, "0s" }, { 59.9, "59s" }, { 119, "119s" },
    { 120, "2m" }, { 300, "5m" }, { 330, "5m30s" }, { 599, "9m59s" }, { 600, "10m" }, { 10799, "179m" },
    { 10800, "3h" }, { 25260, "7h1m" }, { 28800, "8h" }, { 169200, "47h" }, { 172800, "2d" },
    { 183600, "2d3h" }, { 691199, "7d23h" }, { 691200, "8d" }, { 86400 * 729, "729d" },
    { 86400 * 730, "2y" }, { 86400 * 731, "2y1d" }, { 86400 * 365 * 8, "8y" }, { 86400 * 365 * 20, "20y" },
}
for _, c in ipairs(human) do
    t.is(d.human(c[1]), c[2], "human " .. c[1])
end
t.raises("human needs a number", "number of seconds", d.human, "5m")

local short = {
    { -2, "<invalid>" }, { -1, "0s" }, { 0, "0s" }, { 59, "59s" }, { 60, "1m" }, { 3599, "59m" },
    { 3600, "1h" }, { 86399, "23h" }, { 86400, "1d" }, { 86400 * 364, "364d" }, { 86400 * 365, "1y" },
    { 86400 * 365 * 3 + 5, "3y" },
}
for _, c in ipairs(short) do
    t.is(d.short_human(c[1]), c[2], "short_human " .. c[1])
end
t.raises("short_human needs a number", "number of seconds", d.short_human, {})

-- parse_time / age
t.is(d.parse_time("1970-01-01T00:00:00Z"), 0, "parse_time epoch")
t.is(d.parse_time("2024-05-01T10:00:00Z"), 1714557600, "parse_time UTC")
t.is(d.parse_time("2024-05-01T12:00:00+02:00"), 1714557600, "parse_time offset")
t.is(d.parse_time("2024-05-01T05:30:00-04:30"), 1714557600, "parse_time negative offset")
t.is(d.parse_time("2024-05-01T10:00:00.25Z"), 1714557600.25, "parse_time fraction")
t.is(d.parse_time("2000-02-29T00:00:00Z"), 951782400, "parse_time leap day 2000")
t.is(d.parse_time("1969-12-31T23:59:59Z"), -1, "parse_time before the epoch")
t.fails("parse_time rejects 1900-02-29", "out of range", d.parse_time("1900-02-29T00:00:00Z"))
t.fails("parse_time rejects month 13", "out of range", d.parse_time("2024-13-01T00:00:00Z"))
t.fails("parse_time rejects hour 24", "out of range", d.parse_time("2024-01-01T24:00:00Z"))
t.fails("parse_time rejects missing zone", "bad zone", d.parse_time("2024-01-01T00:00:00"))
t.fails("parse_time rejects bad zone", "bad zone", d.parse_time("2024-01-01T00:00:00+0200"))
t.fails("parse_time rejects a date", "invalid RFC 3339", d.parse_time("2024-01-01"))
t.fails("parse_time rejects a number", "must be a string", d.parse_time(5))
t.is(d.age("2024-05-01T10:00:00Z", 1714557600 + 300), "5m", "age from a timestamp")
t.is(d.age(1714557600, 1714557600 + 183600), "2d3h", "age from Unix seconds")
t.is(type(d.age(os.time() - 10)), "string", "age defaults now to os.time()")
t.fails("age rejects a bad timestamp", "invalid RFC 3339", d.age("yesterday", 0))
t.fails("age rejects a table", "expected an RFC 3339", d.age({}, 0))
t.done_testing()
