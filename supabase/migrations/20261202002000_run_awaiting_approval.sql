-- A run may wait for its user's approval of a change an agent proposes (docs/adr/0030). Its own
-- migration: a value added to an enum cannot be used in the transaction that adds it.

alter type public.run_status add value if not exists 'awaiting_approval' after 'running';
