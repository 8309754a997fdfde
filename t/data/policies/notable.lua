-- returns a number, not a table of hooks
return 42
