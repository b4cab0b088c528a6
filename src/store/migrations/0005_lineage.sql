-- Lineage (issue 4): objects under a prefix are found by a range over their id (`bucket/key`), and the calls
-- that start work (StartJobRun, StartQueryExecution, ExecuteStatement...) by name and time.
CREATE INDEX IF NOT EXISTS resources_object_id ON resources(resource_id) WHERE type = 'AWS::S3::Object';
CREATE INDEX IF NOT EXISTS events_name_time ON events(event_name, event_time);
-- Data flows as rows: which dataset each successful data call read or wrote (docs/lineage.md, docs/sql.md).
CREATE VIEW IF NOT EXISTS flows AS
SELECT e.id AS event, e.event_id, e.event_time, e.event_source, e.event_name, er.access,
       r.type AS resource_type, r.resource_id, r.arn AS resource_arn,
       e.principal_id, e.user_identity_arn, e.access_key_id, e.source_ip
  FROM event_resources er
  JOIN events e ON e.id = er.event
  JOIN resources r ON r.id = er.resource
 WHERE er.access IN ('read', 'write') AND e.error_code IS NULL
   AND r.type IN ('AWS::S3::Object', 'AWS::DynamoDB::Table', 'AWS::Kinesis::Stream', 'AWS::KinesisFirehose::DeliveryStream');
