-- policies/controllers/garbagecollector.lua: the garbage collector as a berth controller
-- policy (contract: docs/controllers.md, "Contract extensions"). parent "*": the runtime
-- calls sync(obj, {}, ctx) for every cached object when it, one of its owners or one of its
-- dependents changes. Deletes objects whose owners are all gone (background), prunes
-- references to owners that are gone, runs foreground deletion (dependents first, then the
-- foregroundDeletion finalizer) and orphaning (references stripped, then the orphan
-- finalizer). The logic is lua/berth/controller/gc.lua.

local gc = require("berth.controller.gc")

local policy = {
    parent = "*",
}

function policy.sync(obj, _, ctx)
    return gc.sync(obj, ctx)
end

-- A pod whose ReplicaSet is gone is deleted; one whose owner lives is left alone; a
-- foreground-deleted owner waits for its blocking pod. A hot reload is refused otherwise.
function policy.self_test()
    local null = function() end
    local live = { metadata = { name = "rs", namespace = "default", uid = "rs-1" } }
    local function pod(owner_uid)
        return { metadata = { name = "p", namespace = "default", uid = "p-1", ownerReferences = {
            { apiVersion = "apps/v1", kind = "ReplicaSet", name = "rs", uid = owner_uid,
              controller = true, blockOwnerDeletion = true } } } }
    end
    local ctx = {
        now = 0, null = null, resource = "v1/pods",
        owner = function(ref) return ref.uid == "rs-1" and live or nil end,
        dependents = function() return {} end,
    }
    local r = policy.sync(pod("gone"), {}, ctx)
    assert(r.delete and r.delete[1].name == "p" and r.delete[1].uid == "p-1"
        and r.delete[1].propagation == "Background", "self_test: orphaned pod deleted")
    r = policy.sync(pod("rs-1"), {}, ctx)
    assert(r.delete == nil and r.patch == nil, "self_test: owned pod kept")
    local deleting = { metadata = { name = "rs", namespace = "default", uid = "rs-1",
        deletionTimestamp = "2023-11-14T22:13:20Z", finalizers = { "foregroundDeletion" } } }
    ctx.resource = "apps/v1/replicasets"
    ctx.dependents = function() return { { resource = "v1/pods", object = pod("rs-1") } } end
    r = policy.sync(deleting, {}, ctx)
    assert(r.delete and r.delete[1].name == "p" and r.patch == nil, "self_test: foreground waits")
end

return policy
