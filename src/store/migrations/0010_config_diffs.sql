-- The change a Config change notification carries (issue 13): `configurationItemDiff.changeType` (CREATE, UPDATE,
-- DELETE) and `changedProperties` (JSON: path -> previousValue, updatedValue, changeType). who-changed rebuilds
-- the state before the item from it when no earlier full state is stored (docs/correlation.md).
ALTER TABLE config_items ADD COLUMN diff_change_type TEXT;
ALTER TABLE config_items ADD COLUMN diff TEXT;
