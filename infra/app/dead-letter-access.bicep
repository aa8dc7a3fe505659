// Lets the Event Grid system topic write the events it gives up delivering (after a day of
// retries) into the dead-letter container, which the nightly retrain replays
// (functions/src/dead_letters.rs). Event Grid writes dead letters as the topic, with the topic's
// own system-assigned identity, not the app's: this grants that identity Storage Blob Data
// Contributor on the one container, nothing else in the account.
targetScope = 'resourceGroup'

@description('Name of the storage account holding the dead-letter container.')
param storageAccountName string

@minLength(3)
@description('The dead-letter container (created by main.bicep).')
param containerName string

@minLength(1)
@description('Principal ID of the Event Grid system topic\'s system-assigned identity.')
param topicPrincipalId string

// Storage Blob Data Contributor: read and write blobs, here in one container only.
var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource account 'Microsoft.Storage/storageAccounts@2024-01-01' existing = {
  name: storageAccountName
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2024-01-01' existing = {
  parent: account
  name: 'default'
}

resource container 'Microsoft.Storage/storageAccounts/blobServices/containers@2024-01-01' existing = {
  parent: blobService
  name: containerName
}

resource topicWritesDeadLetters 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(container.id, topicPrincipalId, storageBlobDataContributor)
  scope: container
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
    principalId: topicPrincipalId
    principalType: 'ServicePrincipal'
    description: 'shopsense Event Grid system topic: writes undeliverable events to the dead-letter container.'
  }
}
