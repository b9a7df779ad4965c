-- placeholder replaced by the state module
SELECT 1;
