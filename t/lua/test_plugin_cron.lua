-- t/lua/test_plugin_cron.lua: lua/berth/plugins/cron.lua: parsing (fields, lists, ranges,
-- steps, names, descriptors, errors as robfig/cron's standard parser), the calendar against
-- os.date, next/prev against a brute-force minute scan, Vixie's day-of-month/day-of-week OR,
-- month lengths, leap years, fixed-offset zones and kube's mostRecentScheduleTime.
-- Run by t/0196-plugin-policies.t.
local t = require("tap")
local cron = require("berth.plugins.cron")

local function T(y, mo, d, h, mi)
    return cron.days_from_civil(y, mo, d) * 86400 + (h or 0) * 3600 + (mi or 0) * 60
end
local function iso(x)
    return x and cron.rfc3339(x) or "nil"
end
local function nexts(text, from, n)
    local s = assert(cron.parse(text))
    local out, x = {}, from
    for i = 1, n do
        x = cron.next(s, x)
        out[i] = iso(x)
        if not x then break end
    end
    return table.concat(out, " ")
end
local function set_str(set, lo, hi)
    local out = {}
    for v = lo, hi do
        if set[v] then out[#out + 1] = v end
    end
    return table.concat(out, ",")
end

-- Calendar helpers against os.date, every day 1899-2101.
do
    local bad = 0
    for days = cron.days_from_civil(1899, 1, 1), cron.days_from_civil(2101, 12, 31) do
        local y, m, d = cron.civil_from_days(days)
        local tm = os.date("!*t", days * 86400)
        if y ~= tm.year or m ~= tm.month or d ~= tm.day or cron.weekday(days) ~= tm.wday - 1 or
           cron.days_from_civil(y, m, d) ~= days then
            bad = bad + 1
        end
    end
    t.is(bad, 0, "civil_from_days/days_from_civil/weekday agree with os.date for 1899-2101")
    t.ok(cron.is_leap(2024) and cron.is_leap(2000) and not cron.is_leap(1900) and not cron.is_leap(2100),
        "leap years: 2024, 2000 yes; 1900, 2100 no")
    t.is(cron.rfc3339(T(2024, 2, 29, 13, 5)), "2024-02-29T13:05:00Z", "rfc3339 UTC")
    t.is(cron.rfc3339(T(2024, 1, 1, 0, 30), -5 * 3600), "2023-12-31T19:30:00-05:00", "rfc3339 at an offset")
end

-- Parsing.
do
    local s = assert(cron.parse("5,10-12,*/20 0-23/6 1,15 JAN-mar,Dec sun,Sat"))
    t.is(set_str(s.minute, 0, 59), "0,5,10,11,12,20,40", "minute: list, range, */step")
    t.is(set_str(s.hour, 0, 23), "0,6,12,18", "hour: range/step")
    t.is(set_str(s.dom, 1, 31), "1,15", "day of month list")
    t.is(set_str(s.month, 1, 12), "1,2,3,12", "month names in any case, in ranges")
    t.is(set_str(s.dow, 0, 6), "0,6", "day names")
    t.ok(not s.dom_star and not s.dow_star, "no star fields")
    s = assert(cron.parse("30/10 5/6 ? * *"))
    t.is(set_str(s.minute, 0, 59), "30,40,50", "N/step means N-max/step")
    t.is(set_str(s.hour, 0, 23), "5,11,17,23", "5/6 hours")
    t.ok(s.dom_star and s.dow_star, "? and * are stars")
    s = assert(cron.parse("0 0 */2 * *"))
    t.ok(not s.dom_star, "*/2 is not a star (robfig: a step > 1 clears it)")
    s = assert(cron.parse("0 0 */1 * *"))
    t.ok(s.dom_star, "*/1 stays a star")
    s = assert(cron.parse("  0  0  *  *  *  "))
    t.ok(s ~= nil, "blanks around and between fields")
    s = assert(cron.parse("0\t0 * * *"))
    t.ok(s ~= nil, "tabs separate fields")

    local macros = {
        ["@yearly"] = "0 0 1 1 *", ["@annually"] = "0 0 1 1 *", ["@monthly"] = "0 0 1 * *",
        ["@weekly"] = "0 0 * * 0", ["@daily"] = "0 0 * * *", ["@midnight"] = "0 0 * * *",
        ["@hourly"] = "0 * * * *",
    }
    for m, e in pairs(macros) do
        t.is(nexts(m, T(2023, 11, 14, 22, 13), 3), nexts(e, T(2023, 11, 14, 22, 13), 3), m .. " = " .. e)
    end
    local ev = assert(cron.parse("@every 1h30m"))
    t.is(ev.every, 5400, "@every takes a Go duration")
    t.is(cron.next(ev, 1000.7), 1000 + 5400, "@every: next = floor(t) + d")
    t.is(assert(cron.parse("@every 300ms")).every, 1, "@every below 1s is 1s")

    local bad = {
        { "", "empty" }, { "* * * *", "exactly 5 fields" }, { "* * * * * *", "exactly 5 fields" },
        { "60 * * * *", "above maximum" }, { "* 24 * * *", "above maximum" }, { "* * 0 * *", "below minimum" },
        { "* * 32 * *", "above maximum" }, { "* * * 13 *", "above maximum" }, { "* * * 0 *", "below minimum" },
        { "* * * * 7", "above maximum" }, { "5-1 * * * *", "beyond end" }, { "*/0 * * * *", "positive" },
        { "1-2-3 * * * *", "hyphens" }, { "1/2/3 * * * *", "slashes" }, { "a * * * *", "parse int" },
        { "1,,2 * * * *", "parse int" }, { "-1 * * * *", "parse int" }, { "* * * FOO *", "parse int" },
        { "* * * * MON-", "parse int" }, { "@often", "unrecognized descriptor" }, { "@every x", "duration" },
        { "TZ=UTC 0 0 * * *", "spec.timeZone" }, { "CRON_TZ=Europe/Paris 0 0 * * *", "spec.timeZone" },
        { "*-5 * * * *", "hyphens" },
    }
    for _, b in ipairs(bad) do
        t.fails("refused: '" .. b[1] .. "'", b[2], cron.parse(b[1]))
    end
    t.fails("a non-string schedule", "string", cron.parse(nil))
end

-- next: fixed expectations.
do
    local now = T(2023, 11, 14, 22, 13)
    t.is(nexts("*/15 9-17 * * MON-FRI", now, 3),
        "2023-11-15T09:00:00Z 2023-11-15T09:15:00Z 2023-11-15T09:30:00Z", "business hours every 15 min")
    t.is(nexts("0 0 * * *", T(2023, 12, 31, 0, 0), 2), "2024-01-01T00:00:00Z 2024-01-02T00:00:00Z",
        "strictly after: a time on the schedule is not its own next")
    t.is(nexts("0 0 31 * *", T(2024, 1, 31, 1, 0), 4),
        "2024-03-31T00:00:00Z 2024-05-31T00:00:00Z 2024-07-31T00:00:00Z 2024-08-31T00:00:00Z",
        "day 31 skips the short months")
    t.is(nexts("0 0 30 * *", T(2024, 1, 30, 1, 0), 2), "2024-03-30T00:00:00Z 2024-04-30T00:00:00Z",
        "day 30 skips February")
    t.is(nexts("0 12 29 2 *", T(2023, 1, 1), 3),
        "2024-02-29T12:00:00Z 2028-02-29T12:00:00Z 2032-02-29T12:00:00Z", "Feb 29 only in leap years")
    t.is(nexts("0 12 29 2 *", T(2097, 1, 1), 1), "nil",
        "Feb 29 after 2096 comes in 2104 (2100 is not leap): beyond the 5-year search, nil as robfig")
    t.is(nexts("0 0 30 2 *", T(2023, 1, 1), 1), "nil", "Feb 30 never comes")
    t.is(nexts("0 0 28 2 *", T(2024, 2, 28, 0, 0), 1), "2025-02-28T00:00:00Z", "Feb 28 yearly")
    t.is(nexts("59 23 31 12 *", T(2023, 6, 1), 2), "2023-12-31T23:59:00Z 2024-12-31T23:59:00Z", "last minute of a year")
    t.is(nexts("* * * * *", T(2023, 12, 31, 23, 59) + 30, 2), "2024-01-01T00:00:00Z 2024-01-01T00:01:00Z",
        "every minute across a new year, from a non-whole minute")

    -- Vixie's day rule: both restricted = OR; one star = the other alone.
    t.is(nexts("0 0 13 * FRI", T(2023, 10, 1), 5),
        "2023-10-06T00:00:00Z 2023-10-13T00:00:00Z 2023-10-20T00:00:00Z 2023-10-27T00:00:00Z 2023-11-03T00:00:00Z",
        "13th OR Friday (Oct 13 2023 was both)")
    t.is(nexts("0 0 1 * MON", T(2023, 10, 25), 4),
        "2023-10-30T00:00:00Z 2023-11-01T00:00:00Z 2023-11-06T00:00:00Z 2023-11-13T00:00:00Z",
        "1st OR Monday")
    t.is(nexts("0 0 * * MON", T(2023, 10, 25), 2), "2023-10-30T00:00:00Z 2023-11-06T00:00:00Z", "dom * : Mondays only")
    t.is(nexts("0 0 1 * *", T(2023, 10, 25), 2), "2023-11-01T00:00:00Z 2023-12-01T00:00:00Z", "dow * : the 1st only")
    t.is(nexts("0 0 1 * ?", T(2023, 10, 25), 1), "2023-11-01T00:00:00Z", "? is a star too")
    t.is(nexts("0 0 */10 * 2", T(2023, 10, 25), 4),
        "2023-10-31T00:00:00Z 2023-11-01T00:00:00Z 2023-11-07T00:00:00Z 2023-11-11T00:00:00Z",
        "*/10 in dom is a restriction: days 1,11,21,31 OR Tuesdays")
    t.is(nexts("0 0 1-7 * SUN", T(2023, 10, 1, 1), 3),
        "2023-10-02T00:00:00Z 2023-10-03T00:00:00Z 2023-10-04T00:00:00Z",
        "first week OR Sunday (not 'first Sunday': Vixie semantics)")
end

-- Brute force: next and prev agree with a minute-by-minute scan using os.date.
do
    local function naive(s, x)
        local tm = os.date("!*t", x)
        local dom, dow = s.dom[tm.day] == true, s.dow[tm.wday - 1] == true
        local day
        if s.dom_star or s.dow_star then day = dom and dow else day = dom or dow end
        return s.minute[tm.min] and s.hour[tm.hour] and s.month[tm.month] and day and true or false
    end
    local scheds = { "*/7 */5 * * *", "0 0 13 * FRI", "30 2 29 2 *", "15 10 L * *", "0 0 */3 * 1-5",
                     "10-20/3 22,23 28-31 1-3 SAT", "0 12 * FEB,NOV *", "1 1 1 1 *", "59 23 * * 0" }
    for _, text in ipairs(scheds) do
        local s = cron.parse(text)
        if s then
            local start, stop = T(2024, 1, 25), T(2024, 3, 10)
            local expect, got = {}, {}
            local mism = 0
            for x = start, stop, 60 do
                local n = naive(s, x)
                if n ~= cron.matches(s, x) then mism = mism + 1 end
                if n and x > start then expect[#expect + 1] = x end
            end
            local x = cron.next(s, start)
            while x and x <= stop do
                got[#got + 1] = x
                x = cron.next(s, x)
            end
            t.is(mism, 0, text .. ": matches() agrees with os.date minute by minute")
            t.is(table.concat(got, ","), table.concat(expect, ","), text .. ": next() visits exactly the matching minutes")
            -- prev from a few points: the last expected at or before.
            local okp = true
            for _, p in ipairs({ start + 1, T(2024, 2, 29, 12, 0), T(2024, 2, 15, 7, 31) + 17, stop }) do
                local want
                for _, e in ipairs(expect) do
                    if e <= p then want = e end
                end
                local pv = cron.prev(s, p)
                if want and pv ~= want then okp = false end
                if pv and pv > p then okp = false end
            end
            t.ok(okp, text .. ": prev() is the last matching minute at or before")
        else
            t.ok(text == "15 10 L * *", text .. ": only the L form is refused")
        end
    end
end

-- Zones: fixed offsets only.
do
    t.is(cron.zone("UTC"), 0, "UTC")
    t.is(cron.zone("Etc/UTC"), 0, "Etc/UTC")
    t.is(cron.zone("Etc/GMT+5"), -5 * 3600, "Etc/GMT+5 is UTC-5 (POSIX sign)")
    t.is(cron.zone("Etc/GMT-14"), 14 * 3600, "Etc/GMT-14 is UTC+14")
    t.fails("Etc/GMT+13 is not a zone", "unknown", cron.zone("Etc/GMT+13"))
    t.fails("Europe/Paris needs a tz database", "unknown time zone", cron.zone("Europe/Paris"))
    local s = assert(cron.parse("0 9 * * *"))
    t.is(iso(cron.next(s, T(2024, 1, 1), 2 * 3600)), "2024-01-01T07:00:00Z", "09:00 at UTC+2 is 07:00Z")
    t.is(iso(cron.next(s, T(2024, 1, 1), -5 * 3600)), "2024-01-01T14:00:00Z", "09:00 at UTC-5 is 14:00Z")
    t.is(iso(cron.prev(s, T(2024, 1, 1, 10), -5 * 3600)), "2023-12-31T14:00:00Z", "prev at UTC-5")
    local d = assert(cron.parse("0 0 * * MON"))
    t.is(iso(cron.next(d, T(2024, 1, 7, 18), 5 * 3600)), "2024-01-07T19:00:00Z",
        "the day of week is the zone's: Monday 00:00 at UTC+5 is Sunday 19:00Z")
end

-- most_recent (mostRecentScheduleTime).
do
    local s = assert(cron.parse("0 * * * *"))
    local now = T(2023, 11, 14, 22, 13)
    local mr, n = cron.most_recent(s, T(2023, 11, 14, 22, 0), now)
    t.is(mr, nil, "nothing due after the last schedule at 22:00")
    t.is(n, 0, "none missed")
    mr, n = cron.most_recent(s, T(2023, 11, 14, 21, 30), now)
    t.is(iso(mr), "2023-11-14T22:00:00Z", "22:00 due")
    t.is(n, 1, "one")
    mr, n = cron.most_recent(s, T(2023, 11, 13, 22, 0), now)
    t.is(iso(mr), "2023-11-14T22:00:00Z", "a day late: the latest")
    t.is(n, 24, "24 missed")
    mr, n = cron.most_recent(s, T(2023, 1, 1), now)
    t.ok(n > 100, "months late: many missed (" .. tostring(n) .. ")")
    local ev = assert(cron.parse("@every 7m"))
    mr = cron.most_recent(ev, 1000, 1000 + 7 * 60 * 5 + 30)
    t.is(mr, 1000 + 7 * 60 * 5, "@every: the last multiple of d after earliest")
    local never = assert(cron.parse("0 0 30 2 *"))
    local a, b, err = cron.most_recent(never, 0, now)
    t.ok(a == nil and b == nil and tostring(err):find("no time", 1, true), "a schedule that never fires: nil, nil, reason")
    local irregular = assert(cron.parse("30 6-16/4 * * 1-5"))
    mr = cron.most_recent(irregular, T(2023, 11, 10, 7), T(2023, 11, 14, 12))
    t.is(iso(mr), "2023-11-14T10:30:00Z", "irregular schedule across a weekend: exact, not approximated")
end

t.done_testing()
