package kube

import "errors"

// ErrInvalidOptions marks every error about invalid arguments of New,
// NewClient and NewMetrics; the message names the field and the rule.
var ErrInvalidOptions = errors.New("kube: invalid options")
