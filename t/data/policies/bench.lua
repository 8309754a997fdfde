-- bench.lua: a filter + score loop over fake nodes, as a scheduler policy would run.
-- Uses nothing outside the sandbox, so a plain LuaJIT state runs it unchanged.
local nodes = {}
local M = {}

function M.setup(n)
  nodes = {}
  for i = 1, n do
    nodes[i] = {
      name = "node-" .. i,
      cpu = 4000 + (i % 7) * 1000, mem = (8 + i % 5) * 1024,
      used_cpu = (i * 37) % 4000, used_mem = (i * 53) % 8192,
      zone = "z" .. (i % 3), ready = (i % 11) ~= 0,
    }
  end
  return #nodes
end

function M.schedule(pod)
  local best, best_score, feasible = nil, -1, 0
  for i = 1, #nodes do
    local n = nodes[i]
    if n.ready and n.cpu - n.used_cpu >= pod.cpu and n.mem - n.used_mem >= pod.mem
       and (pod.zone == nil or pod.zone == n.zone) then
      feasible = feasible + 1
      local s = ((n.cpu - n.used_cpu - pod.cpu) / n.cpu
                 + (n.mem - n.used_mem - pod.mem) / n.mem) * 50
      if s > best_score then best, best_score = n, s end
    end
  end
  return best and best.name, feasible
end

return M
