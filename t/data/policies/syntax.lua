local hooks = {}
function hooks.ok( return 1 end
return hooks
