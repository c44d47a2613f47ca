-- Ticket configuration (issue 6): a tenant created from the platform console starts, like one
-- created by `store::tenancy`, with a department "Support" that is its default department
-- (`tenant_settings.default_department_id`). Same signature, owner, search_path and grants as
-- migration 7's function; only the department lines are new.

create or replace function platform_create_tenant(p_id uuid, p_slug text, p_name text, p_operator uuid)
returns void
language plpgsql volatile security definer
set search_path = pg_catalog, public
set app.tenant_id = ''
as $$
declare
  v_department uuid := gen_random_uuid();
begin
  perform set_config('app.tenant_id', p_id::text, true);
  insert into public.tenants (id, slug, name) values (p_id, p_slug, p_name);
  insert into public.tenant_settings (tenant_id, display_name) values (p_id, p_name);
  insert into public.departments (tenant_id, id, name, description)
  values (p_id, v_department, 'Support', 'Where new requests arrive.');
  update public.tenant_settings set default_department_id = v_department where tenant_id = p_id;
  insert into public.roles (tenant_id, id, name, builtin)
  values (p_id, gen_random_uuid(), 'Admin', 'admin'),
         (p_id, gen_random_uuid(), 'Manager', 'manager'),
         (p_id, gen_random_uuid(), 'Agent', 'agent');
  insert into public.platform_audit (id, operator_id, action, tenant_id, reason)
  values (gen_random_uuid(), p_operator, 'tenant_created', p_id, null);
end
$$;

revoke all on function platform_create_tenant(uuid, text, text, uuid) from public;
grant execute on function platform_create_tenant(uuid, text, text, uuid) to tenantdesk_app;
