-- A limit that is not a number fails the load.
return {
    budget_ms = "fast",
    answer = function() return 1 end,
}
