-- memory_mb override: an 8 MiB VM cannot hold a 32 MiB string.
local hooks = { memory_mb = 8 }

function hooks.grow()
    return #string.rep("z", 32 * 1024 * 1024)
end

function hooks.small()
    return #string.rep("z", 1024)
end

return hooks
