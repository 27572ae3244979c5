-- PostgreSQL 17 added the MAINTAIN privilege (VACUUM, ANALYZE, CLUSTER, REINDEX, LOCK TABLE),
-- which the platform's default privileges grant to the API roles along with the rest.
-- 20261125001000_domain_rules.sql took idempotency_keys' TRUNCATE, REFERENCES and TRIGGER from
-- authenticated one by one; MAINTAIN goes the same way. PostgreSQL 15 and 16 have no such
-- privilege, so there is nothing to revoke there.

do $$
begin
  if pg_catalog.current_setting('server_version_num')::int >= 170000 then
    execute 'revoke maintain on table public.idempotency_keys from authenticated';
  end if;
end
$$;
