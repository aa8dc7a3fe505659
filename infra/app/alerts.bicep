// Log alert rules on the function app's Application Insights: what an on-call person must hear
// about without reading logs every morning.
//
// - retrain-failed (severity 1): the nightly retrain failed for good. Either its last invocation
//   failed and no run followed within 20 minutes (the `retrain` function's retry policy runs a
//   transient failure again after 1, 2, 4 and 8 minutes), or a run logged a permanent failure
//   (the whole run, or one kind: "retrain failed", functions/src/retrain.rs `FAILED`). What was
//   live stays live, so serving goes on with models a day older every night.
// - retrain-rejected (severity 3): a retrain made a version its gate rejected ("<kind>
//   <version>: rejected (...)"): a decision, not a failure, but several nights of it mean stale
//   models (README, "Retrain and the model registry").
// - ingest-gave-up (severity 2): the blob trigger moved an upload to its poison queue after its
//   tries (the host's own warning). The nightly retrain's catch-up sweep reads it again; a file
//   that fails every time needs a person.
//
// The rules read `requests` (kept whole: host.json excludes them from sampling) and `traces`
// (sampled only above 20 items a second; a retrain at 02:00 is far below that).

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
    description: 'The nightly retrain failed for good: its last invocation failed with no run after it, or a run logged a permanent failure. What was live stays live. See the retrain invocation\'s logs, then `shopsense models list`.'
    query: '''
union
  (requests
    | where operation_Name == "retrain"
    | summarize arg_max(timestamp, success)
    | where success == false and timestamp < ago(20m)),
  (traces
    | where operation_Name == "retrain" and message startswith "retrain failed")
'''
  }
  {
    name: 'retrain-rejected'
    severity: 3
    description: 'A retrain made a version its gate rejected; the live one stays. `shopsense models list` shows the gate\'s reason and `shopsense models promote` serves the version anyway.'
    query: '''
traces
| where operation_Name == "retrain" and message matches regex @"^[a-z]+ \S+: rejected"
'''
  }
  {
    name: 'ingest-gave-up'
    severity: 2
    description: 'The blob trigger gave up on an upload and moved it to its poison queue. The nightly retrain\'s catch-up sweep reads it again; the ingest invocation\'s logs say why it failed.'
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
      windowSize: 'PT1H'
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
