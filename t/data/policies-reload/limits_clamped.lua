-- Out-of-range limits are clamped to POLICY_MAX_BUDGET_MS / POLICY_MAX_MEMORY_MB.
return {
    budget_ms = 1e9,
    memory_mb = 1e9,
    answer = function() return 42 end,
}
