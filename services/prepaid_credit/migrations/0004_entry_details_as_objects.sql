-- A usage or recurring entry's detail was written as JSON text through the jsonb codec, which
-- encodes once more: stored as a JSON string holding the object. Those rows become the object.
UPDATE entries SET detail = (detail #>> '{}')::jsonb WHERE jsonb_typeof(detail) = 'string';
