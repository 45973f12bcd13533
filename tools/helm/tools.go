//go:build tools

// Package tools pins helm, which the chart tests run (lint, template). It is a module of its own
// because helm's k8s.io/* requirements differ from the ones tools/kube pins for kube-apiserver.
package tools

import _ "helm.sh/helm/v3/cmd/helm"
