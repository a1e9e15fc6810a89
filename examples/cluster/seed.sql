-- The users (radcheck; Cleartext-Password, so MS-CHAPv2 works), what FreeRADIUS replies for them
-- (radreply: a Class, which the nodes echo in accounting) and the address pool (radippool).
INSERT INTO radcheck (username, attribute, op, value)
  SELECT 'user' || n, 'Cleartext-Password', ':=', 'cluster-pw' FROM generate_series(0, 199) AS n;
INSERT INTO radreply (username, attribute, op, value)
  SELECT 'user' || n, 'Class', ':=', 'cluster-user' || n FROM generate_series(0, 199) AS n;
-- 10.78.0.10 .. 10.78.0.209: the clients' addresses, shared by every node.
INSERT INTO radippool (pool_name, framedipaddress)
  SELECT 'sstp', '10.78.0.0'::inet + n FROM generate_series(10, 209) AS n;
