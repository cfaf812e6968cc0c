DROP TABLE admin_sessions;
DROP TABLE refunds;
