// The header through a C++ compiler (-std=c++11 -Wall -Wextra -Werror -pedantic): it must
// declare everything with C linkage and compile cleanly. Linked and run, too.
#include "pgpool.h"
#include "pgpool.h"  // twice: the include guards hold

#include <cstdio>
#include <cstring>

int main() {
    pgpool_options opts;
    pgpool_options_init(&opts);
    pgpool_code rc = pgpool_pool_stats(nullptr, nullptr);
    const pgpool_pool *pool = nullptr;
    pgpool_error *err = nullptr;
    if (rc != PGPOOL_NULL_PARAMETER) return 1;
    if (pgpool_pool_new(nullptr, &opts, nullptr, &err) != PGPOOL_NULL_PARAMETER) return 2;
    pgpool_error_free(err);
    pgpool_pool_free(pool);
    if (std::strcmp(pgpool_version(), PGPOOL_VERSION_STRING) != 0) return 3;
    if (opts.struct_size != sizeof(pgpool_options) || opts.max_size != PGPOOL_DEFAULT) return 4;
    std::printf("C++: header ok, libpgpool %s, %s\n", pgpool_version(), pgpool_code_name(rc));
    return 0;
}
