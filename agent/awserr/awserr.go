// Package awserr turns AWS SDK errors into the agent's sentinel errors, so
// the core can tell throttling, denial and an unreachable endpoint apart
// without knowing AWS types.
package awserr

import (
	"context"
	"errors"
	"net"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/serialpass/serialpass/agent"
)

// common are the error codes every AWS API uses the same way.
var common = map[string]error{
	"AccessDenied":                agent.ErrAccessDenied,
	"AccessDeniedException":       agent.ErrAccessDenied,
	"UnauthorizedOperation":       agent.ErrAccessDenied,
	"AuthFailure":                 agent.ErrAccessDenied,
	"UnrecognizedClientException": agent.ErrAccessDenied,
	"InvalidSignatureException":   agent.ErrAccessDenied,
	"Throttling":                  agent.ErrThrottled,
	"ThrottlingException":         agent.ErrThrottled,
	"RequestLimitExceeded":        agent.ErrThrottled,
	"TooManyRequestsException":    agent.ErrThrottled,
}

// Map puts the agent's sentinel in front of err, keeping err in the chain:
// an API error by its code (codes first, then the common ones), a failure
// to send the request as agent.ErrUnreachable. A cancelled context and
// unknown codes are returned as they are.
func Map(err error, codes map[string]error) error {
	if err == nil {
		return nil
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		if s, ok := codes[ae.ErrorCode()]; ok {
			return errors.Join(s, err)
		}
		if s, ok := common[ae.ErrorCode()]; ok {
			return errors.Join(s, err)
		}
		return err
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	var send *smithyhttp.RequestSendError
	var nerr net.Error
	if errors.As(err, &send) || errors.As(err, &nerr) {
		return errors.Join(agent.ErrUnreachable, err)
	}
	return err
}
