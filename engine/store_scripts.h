/* store_scripts.h: the Redis Lua scripts of the store (store.c), the only code that writes
 * objects. A header of their own so that bench/write_script.c can run the write script
 * without berth in front of it (scripts/bench.sh, "the store's ceiling"). */
#ifndef BERTH_STORE_SCRIPTS_H
#define BERTH_STORE_SCRIPTS_H

/* KEYS: 1 objects hash, 2 versions hash, 3 index zset, 4 stream, 5 rv counter,
 *       6 per-kind last-write hash, 7 namespaces objects hash, 7+i the table of claim i
 * ARGV: 1 op (c|u|d), 2 field, 3 expected rv or "", 4 json prefix, 5 json suffix,
 *       6 stream window, 7 number of claims ("" = 0), 8 previous-object projection,
 *       9 namespace that must exist or "", 10 kind store key, then per claim i (from 1):
 *       9+2i slot, 10+2i 't' (take) or 'r' (release) */
static const char write_lua[] =
    "local op, field = ARGV[1], ARGV[2]\n"
    "local cur = redis.call('HGET', KEYS[2], field)\n"
    "if op == 'c' then\n"
    "  if cur then return {'exists', cur} end\n"
    "  if ARGV[9] ~= '' then\n"
    "    local ns = redis.call('HGET', KEYS[7], ARGV[9])\n"
    "    if not ns then return {'nsmissing'} end\n"
    /* Namespaces are written by this server with status {"phase":...} first. */
    "    if string.find(ns, '\"status\":{\"phase\":\"Terminating\"', 1, true) then\n"
    "      return {'nsterminating'} end\n"
    "  end\n"
    "else\n"
    "  if not cur then return {'notfound'} end\n"
    "  if ARGV[3] ~= '' and ARGV[3] ~= cur then return {'conflict', cur} end\n"
    "end\n"
    "local nc = tonumber(ARGV[7]) or 0\n"
    "for i = 1, nc do\n"
    "  if ARGV[10 + 2 * i] == 't' then\n"
    "    local h = redis.call('HGET', KEYS[7 + i], ARGV[9 + 2 * i])\n"
    "    if h and h ~= field then return {'taken', i - 1, h} end\n"
    "  end\n"
    "end\n"
    "local rv = redis.call('INCR', KEYS[5])\n"
    "local obj = ARGV[4] .. rv .. ARGV[5]\n"
    "local t = 'MODIFIED'\n"
    "if op == 'd' then\n"
    "  t = 'DELETED'\n"
    "  redis.call('HDEL', KEYS[1], field)\n"
    "  redis.call('HDEL', KEYS[2], field)\n"
    "  redis.call('ZREM', KEYS[3], field)\n"
    "else\n"
    "  redis.call('HSET', KEYS[1], field, obj)\n"
    "  redis.call('HSET', KEYS[2], field, rv)\n"
    "  if op == 'c' then t = 'ADDED'; redis.call('ZADD', KEYS[3], 0, field) end\n"
    "end\n"
    "redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[6], '0-' .. rv, 't', t, 'k', field,\n"
    "           'o', obj, 'p', ARGV[8])\n"
    "redis.call('HSET', KEYS[6], ARGV[10], rv)\n"
    "for i = 1, nc do\n"
    "  local t, slot = KEYS[7 + i], ARGV[9 + 2 * i]\n"
    "  if ARGV[10 + 2 * i] == 't' then redis.call('HSET', t, slot, field)\n"
    "  elseif redis.call('HGET', t, slot) == field then redis.call('HDEL', t, slot) end\n"
    "end\n"
    "return {'ok', rv}\n";

/* KEYS: 1 objects hash, 2 index zset, 3 rv counter, 4 last-write hash
 * ARGV: 1 lex min, 2 lex max, 3 limit (0 = all), 4 kind store key
 * Returns {rv, lastwrite, more, key1, value1, key2, value2, ...}: one snapshot. */
static const char list_lua[] =
    "local rv = redis.call('GET', KEYS[3]) or '0'\n"
    "local mod = redis.call('HGET', KEYS[4], ARGV[4]) or '0'\n"
    "local limit = tonumber(ARGV[3])\n"
    "local keys\n"
    "if limit > 0 then\n"
    "  keys = redis.call('ZRANGEBYLEX', KEYS[2], ARGV[1], ARGV[2], 'LIMIT', 0, limit + 1)\n"
    "else\n"
    "  keys = redis.call('ZRANGEBYLEX', KEYS[2], ARGV[1], ARGV[2])\n"
    "end\n"
    "local n, more = #keys, 0\n"
    "if limit > 0 and n > limit then n = limit; more = 1 end\n"
    "local out = {rv, mod, more}\n"
    /* HMGET in chunks: unpack() of a huge table overflows Lua's C stack. */
    "for i = 1, n, 1000 do\n"
    "  local j = math.min(i + 999, n)\n"
    "  local chunk = {}\n"
    "  for x = i, j do chunk[#chunk + 1] = keys[x] end\n"
    "  local vals = redis.call('HMGET', KEYS[1], unpack(chunk))\n"
    "  for x = 1, #chunk do out[#out + 1] = chunk[x]; out[#out + 1] = vals[x] end\n"
    "end\n"
    "return out\n";

/* KEYS: 1 stream. ARGV: 1 after rv, 2 count.
 * Returns {trimmed-up-to, entries}. Trimming (XADD MAXLEN) drops the oldest entries and
 * Redis does not record their ids (max-deleted-entry-id counts XDEL only), but it counts
 * every entry ever added: if that exceeds the length, everything before the first entry
 * left is gone. A watcher whose rv is older than that has lost events: 410 Expired. */
static const char range_lua[] =
    "local trimmed = '0-0'\n"
    "local info = redis.pcall('XINFO', 'STREAM', KEYS[1])\n"
    "if type(info) == 'table' and info.err == nil then\n"
    "  local len, added, last = 0, 0, '0-0'\n"
    "  for i = 1, #info, 2 do\n"
    "    if info[i] == 'length' then len = info[i + 1] end\n"
    "    if info[i] == 'entries-added' then added = info[i + 1] end\n"
    "    if info[i] == 'last-generated-id' then last = info[i + 1] end\n"
    "  end\n"
    "  if added > len then\n"
    "    local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)\n"
    "    if #first == 0 then trimmed = last\n"
    "    else\n"
    "      local seq = tonumber(string.match(first[1][1], '%-(%d+)$'))\n"
    "      trimmed = '0-' .. (seq - 1)\n"
    "    end\n"
    "  end\n"
    "end\n"
    "local entries = redis.call('XRANGE', KEYS[1], '(0-' .. ARGV[1], '+', 'COUNT', ARGV[2])\n"
    "return {trimmed, entries}\n";

/* KEYS: 1 stream, 2 rv counter, 3 last-write hash. ARGV: 1 after rv, 2 count, 3 kind store key.
 * Returns {rv, lastwrite, complete, entries}: the kind's changes after ARGV[1], read in the
 * same step as the current rv, so applying them to a copy taken at ARGV[1] gives the
 * snapshot at rv. complete is 0 when the stream may have lost some of them to trimming
 * (see range_lua) or when there are count or more: the caller reads a snapshot instead. */
static const char delta_lua[] =
    "local rv = redis.call('GET', KEYS[2]) or '0'\n"
    "local mod = redis.call('HGET', KEYS[3], ARGV[3]) or '0'\n"
    "local after = tonumber(ARGV[1])\n"
    "if tonumber(mod) <= after then return {rv, mod, 1, {}} end\n"
    "local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)\n"
    "if #first == 0 then return {rv, mod, 0, {}} end\n"
    "local fseq = tonumber(string.match(first[1][1], '%-(%d+)$'))\n"
    "if fseq > after + 1 then\n"
    /* Ids between after and the first entry belong to other kinds, unless trimmed. */
    "  local info = redis.call('XINFO', 'STREAM', KEYS[1])\n"
    "  local len, added = 0, nil\n"
    "  for i = 1, #info, 2 do\n"
    "    if info[i] == 'length' then len = info[i + 1] end\n"
    "    if info[i] == 'entries-added' then added = info[i + 1] end\n"
    "  end\n"
    "  if added == nil or added > len then return {rv, mod, 0, {}} end\n"
    "end\n"
    "local entries = redis.call('XRANGE', KEYS[1], '(0-' .. ARGV[1], '+', 'COUNT', ARGV[2])\n"
    "if #entries >= tonumber(ARGV[2]) then return {rv, mod, 0, {}} end\n"
    "return {rv, mod, 1, entries}\n";

#endif
