/* write_script.c: prints the store's write script (engine/store_scripts.h), so that
 * scripts/bench.sh can load it into Redis and drive it with redis-benchmark alone: the rate
 * the store allows before any API server is in front of it. */
#include <stdio.h>

#include "store_scripts.h"

int main(void)
{
    fputs(write_lua, stdout);
    return 0;
}
