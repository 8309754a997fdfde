-- t/lua/test_quantity.lua: berth.quantity against Kubernetes' ParseQuantity/String rules
-- (cases taken from the behaviour of k8s.io/apimachinery/pkg/api/resource).
local t = require("tap")
local q = require("berth.quantity")

-- input, canonical String(), MilliValue(), Value() (nil where |result| > 2^53)
local good = {
    { "250m", "250m", 250, 1 },
    { "1.5", "1500m", 1500, 2 },
    { "2", "2", 2000, 2 },
    { "64Mi", "64Mi", 67108864000, 67108864 },
    { "1G", "1G", 1000000000000, 1000000000 },
    { "1e3", "1e3", 1000000, 1000 },
    { "100k", "100k", 100000000, 100000 },
    { "0.5Gi", "512Mi", 536870912000, 536870912 },
    { "1Ki", "1Ki", 1024000, 1024 },
    { ".5", "500m", 500, 1 },
    { "+1", "1", 1000, 1 },
    { "-1", "-1", -1000, -1 },
    { "0", "0", 0, 0 },
    { "-0", "0", 0, 0 },
    { "0Mi", "0", 0, 0 },
    { "5n", "5n", 1, 1 },
    { "4u", "4u", 1, 1 },
    { "1m", "1m", 1, 1 },
    { "1.", "1", 1000, 1 },
    { "1.G", "1G", 1000000000000, 1000000000 },
    { "100.035k", "100035", 100035000, 100035 },
    { "10.035M", "10035k", 10035000000, 10035000 },
    { "0.001", "1m", 1, 1 },
    { "0.0005k", "500m", 500, 1 },
    { "1E-3", "1e-3", 1, 1 },
    { "1.3E+6", "1300e3", 1300000000, 1300000 },
    { "0.5e-2", "5e-3", 5, 1 },
    { "1e9", "1e9", 1000000000000, 1000000000 },
    { "1024Mi", "1Gi", 1073741824000, 1073741824 },
    { "1000M", "1G", 1000000000000, 1000000000 },
    { "1500m", "1500m", 1500, 2 },
    { "3.001n", "4n", 1, 1 },
    { "0.00000012345", "124n", 1, 1 },
    { "0.0000000005", "1n", 1, 1 },
    { "100.035Ki", "102435840m", 102435840, 102436 },
    { ".001Ki", "1024m", 1024, 2 },
    { ".000000000001Ki", "2n", 1, 1 },
    { "1025", "1025", 1025000, 1025 },
    { "1536Mi", "1536Mi", 1610612736000, 1610612736 },
    { "8Ei", "9223372036854775807", nil, nil },   -- capped at 2^63-1 like kube
    { "12E", "12E", nil, nil },
    { "1e21", "1e21", nil, nil },
    { "-1.5", "-1500m", -1500, -2 },              -- rounding is away from zero
    { "-0.1m", "-100u", -1, -1 },
    { "9007199254740992", "9007199254740992", nil, 9007199254740992 },
    { "9007199254740993", "9007199254740993", nil, nil },
}
for _, c in ipairs(good) do
    local v, err = q.parse(c[1])
    t.ok(v ~= nil, "parse " .. c[1] .. (err and (" (" .. err .. ")") or ""))
    if v then
        t.is(q.format(v), c[2], "format " .. c[1])
        t.is(q.canonical(c[1]), c[2], "canonical " .. c[1])
        t.is(q.milli(v), c[3], "milli " .. c[1])
        t.is(q.value(v), c[4], "value " .. c[1])
    end
    t.is(q.parse_milli(c[1]), c[3], "parse_milli " .. c[1])
    t.is(q.parse_value(c[1]), c[4], "parse_value " .. c[1])
end

t.is(q.parse("64Mi").format, "BinarySI", "format of 64Mi")
t.is(q.parse("1e3").format, "DecimalExponent", "format of 1e3")
t.is(q.parse("1k").format, "DecimalSI", "format of 1k")
t.is(q.parse("0.000000000001Ki").format, "DecimalSI", "binary below 1 turns DecimalSI")

-- Malformed input: nil, reason (kube's messages).
local bad = {
    { "1.2.3", "regular expression" }, { "1Z", "regular expression" }, { "", "regular expression" },
    { "Mi", "regular expression" }, { " 1", "regular expression" }, { "1 ", "regular expression" },
    { ".", "regular expression" }, { "-", "regular expression" }, { "+", "regular expression" },
    { "1.1.M", "regular expression" }, { "1+1.0M", "regular expression" }, { "aoeu", "regular expression" },
    { "0.1mi", "suffix" }, { ".5i", "suffix" }, { "1i", "suffix" }, { "-3.01i", "suffix" },
    { "-3.01e-", "suffix" }, { "1e", "suffix" }, { "1k3", "suffix" }, { "1KI", "regular expression" },
    { "1K", "suffix" }, { "1e99999999999999999999", "suffix" }, { "1e100", "too large" },
    { "1x", "regular expression" },
}
for _, c in ipairs(bad) do
    t.fails("parse rejects " .. string.format("%q", c[1]), c[2], q.parse(c[1]))
    t.fails("parse_milli rejects " .. string.format("%q", c[1]), c[2], q.parse_milli(c[1]))
    t.fails("parse_value rejects " .. string.format("%q", c[1]), c[2], q.parse_value(c[1]))
    t.fails("canonical rejects " .. string.format("%q", c[1]), c[2], q.canonical(c[1]))
end
t.fails("parse rejects a table", "must be a string", q.parse({}))
t.fails("parse rejects nil", "must be a string", q.parse(nil))
t.is(q.parse_milli(2), 2000, "parse_milli accepts a Lua number")
t.is(q.parse("1e-99999999999") and q.format(q.parse("1e-99999999999")), "1e-9", "tiny exponent rounds to 1n")
t.raises("format needs a parsed quantity", "parsed quantity", q.format, "1")

-- compare
t.is(q.compare("100m", "50m"), 1, "compare 100m > 50m")
t.is(q.compare("50m", "100m"), -1, "compare 50m < 100m")
t.is(q.compare("0", "0m"), 0, "compare 0 == 0m")
t.is(q.compare("10000T", "100Gi"), 1, "compare 10000T > 100Gi")
t.is(q.compare("1Gi", "1G"), 1, "compare 1Gi > 1G")
t.is(q.compare("1000m", "1"), 0, "compare 1000m == 1")
t.is(q.compare("-1", "1m"), -1, "compare negative")
t.is(q.compare("-2", "-1"), -1, "compare two negatives")
t.is(q.compare("1e3", "1k"), 0, "compare across formats")
t.is(q.compare("9007199254740993", "9007199254740992"), 1, "compare beyond 2^53 stays exact")
t.is(q.compare(q.parse("2Gi"), "2048Mi"), 0, "compare accepts parsed quantities")
t.fails("compare bad left", "regular expression", q.compare("x", "1"))
t.fails("compare bad right", "suffix", q.compare("1", "1i"))

-- add / sub / sum (format of the left operand, or the right one when the left is zero)
t.is(q.add("1Gi", "512Mi"), "1536Mi", "add binary")
t.is(q.add("100m", "200m"), "300m", "add milli")
t.is(q.add("0", "100m"), "100m", "add to zero keeps the other format")
t.is(q.add("1Gi", "0"), "1Gi", "add zero keeps the format")
t.is(q.add("1", "-1"), "0", "add to zero")
t.is(q.add("500m", "500m"), "1", "add carries to units")
t.is(q.add("9007199254740992", "1"), "9007199254740993", "add is exact beyond 2^53")
t.is(q.sub("1", "250m"), "750m", "sub")
t.is(q.sub("0", "1Gi"), "-1Gi", "sub from zero keeps the other format")
t.is(q.sub("100m", "1"), "-900m", "sub goes negative")
t.is(q.sub("1Gi", "1Gi"), "0", "sub to zero")
t.is(q.sub("-1", "-3"), "2", "sub negatives")
local s, sq = q.add("1", "1")
t.is(s, "2", "add returns the string")
t.is(q.value(sq), 2, "add returns the parsed result too")
t.fails("add bad left", "regular expression", q.add("", "1"))
t.fails("add bad right", "suffix", q.add("1", "1i"))
t.fails("sub bad left", "regular expression", q.sub("Mi", "1"))
t.fails("sub bad right", "regular expression", q.sub("1", "1.2.3"))
t.is(q.sum({ "100m", "200m", "1" }), "1300m", "sum")
t.is(q.sum({}), "0", "sum of nothing")
t.is(q.sum({ "1Gi", "1Gi" }), "2Gi", "sum keeps the binary format")
t.fails("sum names the bad element", "element 2", q.sum({ "1", "bad" }))

-- sign
t.is(q.sign("-5m"), -1, "sign negative")
t.is(q.sign("0Ki"), 0, "sign zero")
t.is(q.sign("1n"), 1, "sign positive")
t.fails("sign bad", "regular expression", q.sign("x"))

-- format_milli / format_value
t.is(q.format_milli(1500), "1500m", "format_milli 1500")
t.is(q.format_milli(2000), "2", "format_milli 2000")
t.is(q.format_milli(1), "1m", "format_milli 1")
t.is(q.format_milli(0), "0", "format_milli 0")
t.is(q.format_milli(-250), "-250m", "format_milli negative")
t.is(q.format_value(1024, "BinarySI"), "1Ki", "format_value 1024 BinarySI")
t.is(q.format_value(1024 * 1024, "BinarySI"), "1Mi", "format_value 1Mi")
t.is(q.format_value(5, "BinarySI"), "5", "format_value small binary")
t.is(q.format_value(1000), "1k", "format_value default DecimalSI")
t.is(q.format_value(1234000), "1234k", "format_value 1234k")
t.is(q.format_value(1000000, "DecimalExponent"), "1e6", "format_value DecimalExponent")
t.is(q.format_value(2 ^ 53), "9007199254740992", "format_value at 2^53")
t.fails("format_value rejects fractions", "integer", q.format_value(1.5))
t.fails("format_value rejects > 2^53", "integer", q.format_value(2 ^ 53 + 2))
t.fails("format_value rejects NaN", "integer", q.format_value(0 / 0))
t.fails("format_value rejects unknown format", "unknown format", q.format_value(1, "Hex"))
t.fails("format_milli rejects strings", "integer", q.format_milli("1"))

-- round trip: canonical strings parse back to the same value
for _, c in ipairs(good) do
    local canon = q.canonical(c[1])
    t.is(q.compare(canon, c[1]), 0, "round trip " .. c[1] .. " -> " .. canon)
end

t.is(q.MAX_EXACT, 2 ^ 53, "MAX_EXACT is 2^53")
t.done_testing()
