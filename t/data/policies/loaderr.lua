-- fails while loading
local hooks = {}
local x = nil
return x.y
