// Log alert rules on the function app's Application Insights: what an on-call person must hear
// about without reading logs every morning.
//
// - retrain-failed (severity 1): the nightly retrain's last invocation failed and no run followed.
//   The `retrain` function's retry policy runs a transient failure again after about 3, 6, 9 and
//   15 minutes, and a run may take up to the 30-minute function timeout, so the rule waits 50
//   minutes after the failed invocation ended. What was live stays live: serving goes on with
//   models a day older every night.
// - retrain-cannot-train (severity 3): a run logged a permanent failure, of the whole run or of one
//   kind ("retrain failed", functions/src/retrain.rs `FAILED`): no upload yet, too little history
//   for a forecast. Data, not infrastructure: it repeats every night until the data changes.
// - retrain-rejected (severity 3): a retrain made a version its gate rejected ("<kind>
//   <version>: rejected (...)"): a decision, not a failure, but several nights of it mean stale
//   models (README, "Retrain and the model registry").
// - retrain-took-out (severity 2): a retrain took a kind's live version out of serving ("<kind>
//   <version>: retired (retired: no sales remain ...)" or "(retired: no upload it was trained
//   on still counts ...)"): every upload it was trained on was withdrawn, and nothing is left to
//   train on or the version trained on what is left was rejected; the kind's routes answer 503
//   until a version goes live.
// - ingest-gave-up (severity 2): the blob trigger moved an upload to its poison queue after its
//   tries (the host's own warning). The nightly retrain's catch-up sweep reads it again; a file
//   that fails every time needs a person.
//
// The rules read `requests` (kept whole: host.json excludes them from sampling) and `traces`
// (sampled only above 20 items a second; a retrain at 02:00 is far below that). The host keeps
// an invocation's log lines only when it succeeded, so the permanent failures (answered as
// done) reach `traces` and the transient ones are seen in `requests`.

@description('Azure region of the alert rules (the action group is global).')
param location string

@description('Tags of every resource.')
param tags object

@description('Prefix of every resource name (the environment\'s unique token).')
param namePrefix string

@description('Resource ID of the Application Insights component the function app sends its telemetry to.')
param appInsightsResourceId string

@description('E-mail address told when a rule fires (azd: SHOPSENSE_ALERT_EMAIL). Empty: the rules still fire and show in Azure Monitor, and nobody is mailed.')
param alertEmail string = ''

resource onCall 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: '${namePrefix}-on-call'
  location: 'global'
  tags: tags
  properties: {
    // At most 12 characters: the sender name of SMS and e-mail.
    groupShortName: 'shopsense'
    enabled: true
    emailReceivers: [
      {
        name: 'on-call'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

var actionGroups = empty(alertEmail) ? [] : [onCall.id]

var rules = [
  {
    name: 'retrain-failed'
    severity: 1
    windowSize: 'PT2H'
    description: 'The nightly retrain failed and its retries are spent: its last invocation failed, and none followed within 50 minutes. What was live stays live. See the retrain invocations in Application Insights, then `shopsense models list`.'
    query: '''
requests
| where operation_Name == "retrain"
| extend ended = timestamp + duration * 1ms
| summarize arg_max(ended, success)
| where success == false and ended < ago(50m)
'''
  }
  {
    name: 'retrain-cannot-train'
    severity: 3
    windowSize: 'PT1H'
    description: 'A retrain could not train a kind, or at all, for a reason another run cannot fix (no upload yet, too little history for a forecast). What was live stays live.'
    query: '''
traces
| where operation_Name == "retrain" and message startswith "retrain failed"
'''
  }
  {
    name: 'retrain-rejected'
    severity: 3
    windowSize: 'PT1H'
    description: 'A retrain made a version its gate rejected; the live one stays (unless none of its uploads still counts: retrain-took-out then fires too). `shopsense models list` shows the gate\'s reason and `shopsense models promote` serves the version anyway.'
    query: '''
traces
| where operation_Name == "retrain" and message matches regex @"^[a-z]+ \S+: rejected"
'''
  }
  {
    name: 'retrain-took-out'
    severity: 2
    windowSize: 'PT1H'
    description: 'A retrain took a kind\'s live version out of serving: every transactions upload it was trained on was withdrawn, and nothing is left to train on or the version trained on what is left was rejected by its gates, so its routes answer 503 until a version goes live. `shopsense uploads list` shows what was withdrawn, `shopsense models list` the rejection.'
    query: '''
traces
| where operation_Name == "retrain" and message matches regex @"^[a-z]+ \S+: retired \(retired: no "
'''
  }
  {
    name: 'ingest-gave-up'
    severity: 2
    windowSize: 'PT1H'
    description: 'The blob trigger gave up on an upload and moved it to its poison queue. The nightly retrain\'s catch-up sweep reads it again; the ingest invocations say why it failed.'
    query: '''
traces
| where message has "MaxDequeueCount" and message has "webjobs-blobtrigger-poison"
'''
  }
]

resource alertRules 'Microsoft.Insights/scheduledQueryRules@2021-08-01' = [
  for rule in rules: {
    name: '${namePrefix}-${rule.name}'
    location: location
    tags: tags
    kind: 'LogAlert'
    properties: {
      displayName: 'shopsense: ${rule.name}'
      description: rule.description
      severity: rule.severity
      enabled: true
      scopes: [
        appInsightsResourceId
      ]
      evaluationFrequency: 'PT15M'
      windowSize: rule.windowSize
      criteria: {
        allOf: [
          {
            query: rule.query
            timeAggregation: 'Count'
            operator: 'GreaterThan'
            threshold: 0
            failingPeriods: {
              numberOfEvaluationPeriods: 1
              minFailingPeriodsToAlert: 1
            }
          }
        ]
      }
      autoMitigate: true
      actions: {
        actionGroups: actionGroups
      }
    }
  }
]

@description('Names of the alert rules.')
output ruleNames array = [for rule in rules: '${namePrefix}-${rule.name}']
