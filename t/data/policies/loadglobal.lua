-- sets a global at load time: not allowed
filter = function() return true end
return {}
