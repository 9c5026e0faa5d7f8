/*
 * The lab's pg_ad_mapping library: only what lets PostgreSQL load it through
 * shared_preload_libraries, as Aurora needs before CREATE EXTENSION pg_ad_mapping (AWS_FACTS.md
 * section 6). The extension's functions are SQL (extension/pg_ad_mapping--1.0.sql).
 *
 * Written without PostgreSQL's server headers (Debian's postgresql-server-dev pulls in clang and
 * llvm): the module magic block below is PG_MODULE_MAGIC's layout for PostgreSQL 15-17 (fmgr.h,
 * Pg_magic_struct). lab.py builds it with the server's major version and checks that the server
 * loads it.
 */
#ifndef PG_MAJOR
#error "build with -DPG_MAJOR=<the server's major version>"
#endif

typedef struct
{
	int			len;
	int			version;
	int			funcmaxargs;
	int			indexmaxkeys;
	int			namedatalen;
	int			float8byval;
	char		abi_extra[32];
} Pg_magic_struct;

const Pg_magic_struct *Pg_magic_func(void);

const Pg_magic_struct *
Pg_magic_func(void)
{
	/* FUNC_MAX_ARGS 100, INDEX_MAX_KEYS 32, NAMEDATALEN 64, FLOAT8PASSBYVAL on 64-bit, FMGR_ABI_EXTRA */
	static const Pg_magic_struct data = {sizeof(Pg_magic_struct), PG_MAJOR * 100, 100, 32, 64, 1, "PostgreSQL"};

	return &data;
}
