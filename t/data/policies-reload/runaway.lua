-- A policy with a hook that never returns: the JIT compiles the loop, so only abandoning the
-- VM stops it (t/c/policy.c, test_runaway).
local policy = { budget_ms = 40 }

function policy.forever()
    local n = 0
    while true do
        n = n + 1
    end
end

function policy.answer()
    return 42
end

return policy
