// Package docs holds serialpass's deployment docs (deploy.md, the IAM
// policy, the Terraform example); its tests check their syntax and the
// settings they promise.
package docs
