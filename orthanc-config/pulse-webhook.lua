-- PULSE for Orthanc: announce every stable study to the PULSE service (the webhook path of discovery).
-- The service also reads Orthanc's /changes feed, so a failed announcement delays nothing for long.
-- Settings come from the Orthanc configuration:
--   "PulseWebhook": { "Url": "http://pulse:8088/webhook/stable-study", "Secret": "<shared secret>" }

local function settings()
  local config = GetOrthancConfiguration()
  local webhook = config['PulseWebhook']
  if webhook == nil or webhook['Url'] == nil or webhook['Url'] == '' then
    return nil
  end
  return webhook
end

function OnStableStudy(studyId, tags, metadata)
  local webhook = settings()
  if webhook == nil then
    return
  end
  -- The body carries what the service needs to queue the study without calling Orthanc back: Orthanc
  -- 1.10 does not answer REST calls about the study while this callback waits for the answer.
  local lastUpdate = ''
  if metadata ~= nil and metadata['LastUpdate'] ~= nil then
    lastUpdate = metadata['LastUpdate']
  end
  local body = '{"orthancStudyId":"' .. studyId .. '","studyInstanceUID":"' .. (tags['StudyInstanceUID'] or '') ..
    '","lastUpdate":"' .. lastUpdate .. '"}'
  local headers = {
    ['Content-Type'] = 'application/json',
    ['X-Pulse-Secret'] = webhook['Secret'] or ''
  }
  -- pcall: an unreachable service must not stop Orthanc's Lua engine; no patient data is logged.
  local ok, err = pcall(HttpPost, webhook['Url'], body, headers)
  if not ok then
    print('PULSE webhook failed for study ' .. studyId .. ': ' .. tostring(err))
  end
end
