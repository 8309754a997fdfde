-- helper.lua: a module for require() tests (loaded as "@lua/helper.lua").
local M = {}
function M.double(x) return 2 * x end
function M.fail() error("helper failed") end     -- line 4
return M
