// Replaces the operator's pkg/generator/register/register.go (go build -overlay): only the
// generators that need no cloud SDK.
package register

import (
	_ "github.com/external-secrets/external-secrets/pkg/generator/fake"
	_ "github.com/external-secrets/external-secrets/pkg/generator/password"
	_ "github.com/external-secrets/external-secrets/pkg/generator/uuid"
	_ "github.com/external-secrets/external-secrets/pkg/generator/webhook"
)
