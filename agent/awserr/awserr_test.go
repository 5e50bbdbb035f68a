package awserr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/aws/smithy-go"

	"github.com/serialpass/serialpass/agent"
)

func TestMap(t *testing.T) {
	errOwn := errors.New("own sentinel")
	api := func(code string) error {
		return fmt.Errorf("operation error: %w", &smithy.GenericAPIError{Code: code, Message: "m"})
	}
	cases := []struct {
		name string
		err  error
		want error // nil: no sentinel added
	}{
		{"throttling", api("ThrottlingException"), agent.ErrThrottled},
		{"EC2 throttling", api("RequestLimitExceeded"), agent.ErrThrottled},
		{"denied", api("AccessDeniedException"), agent.ErrAccessDenied},
		{"EC2 denied", api("UnauthorizedOperation"), agent.ErrAccessDenied},
		{"own code wins", api("ResourceNotFoundException"), errOwn},
		{"unknown code", api("SomethingElse"), nil},
		{"refused connection", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, agent.ErrUnreachable},
		{"cancelled", fmt.Errorf("send: %w", context.Canceled), nil},
	}
	sentinels := []error{agent.ErrThrottled, agent.ErrAccessDenied, agent.ErrUnreachable, errOwn}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Map(tc.err, map[string]error{"ResourceNotFoundException": errOwn})
			if !errors.Is(got, tc.err) {
				t.Errorf("the original error is lost: %v", got)
			}
			for _, s := range sentinels {
				if errors.Is(got, s) != (s == tc.want) {
					t.Errorf("errors.Is(%v, %v) = %v", got, s, !(s == tc.want))
				}
			}
		})
	}
	if Map(nil, nil) != nil {
		t.Error("Map(nil) != nil")
	}
}
