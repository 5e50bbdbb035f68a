package docs_test

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// statement is one IAM policy statement; Action and Resource may be a
// string or a list.
type statement struct {
	Sid       string
	Effect    string
	Action    stringList
	Resource  stringList
	Condition map[string]map[string]stringList
}

type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = stringList{one}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(l))
}

func readPolicy(t *testing.T) map[string]statement {
	t.Helper()
	data, err := os.ReadFile("iam-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	var policy struct {
		Version   string
		Statement []statement
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&policy); err != nil {
		t.Fatalf("iam-policy.json: %v", err)
	}
	if policy.Version != "2012-10-17" {
		t.Errorf("Version %q, want 2012-10-17 (policy variables need it)", policy.Version)
	}
	bySid := map[string]statement{}
	for _, s := range policy.Statement {
		if s.Effect != "Allow" {
			t.Errorf("statement %q: Effect %q", s.Sid, s.Effect)
		}
		if _, dup := bySid[s.Sid]; dup || s.Sid == "" {
			t.Errorf("statement Sid %q empty or repeated", s.Sid)
		}
		bySid[s.Sid] = s
	}
	return bySid
}

func TestIAMPolicy(t *testing.T) {
	policy := readPolicy(t)
	const secrets = "arn:aws:secretsmanager:*:111122223333:secret:serialpass/*"
	tests := []struct {
		sid       string
		actions   []string
		resource  string
		condition string // operator/key=value that must be present
	}{
		{"ReadSharedSecrets", []string{"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"}, secrets,
			"Null/aws:ResourceTag/serialpass:instance-id=true"},
		{"UseOwnRotatedSecret", []string{"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"}, secrets,
			"StringLike/aws:userid=*:${aws:ResourceTag/serialpass:instance-id}"},
		{"CreateOwnRotatedSecret", []string{"secretsmanager:CreateSecret", "secretsmanager:TagResource"}, secrets,
			"StringLike/aws:userid=*:${aws:RequestTag/serialpass:instance-id}"},
		{"ReportStatusOnItself", []string{"ec2:CreateTags"}, "${ec2:SourceInstanceARN}",
			"ForAllValues:StringLike/aws:TagKeys=serialpass:status*"},
		{"DoctorChecks", []string{"ec2:GetSerialConsoleAccessStatus"}, "*", ""},
	}
	for _, tt := range tests {
		t.Run(tt.sid, func(t *testing.T) {
			s, ok := policy[tt.sid]
			if !ok {
				t.Fatalf("no statement %q", tt.sid)
			}
			got := slices.Sorted(slices.Values(s.Action))
			if !slices.Equal(got, tt.actions) {
				t.Errorf("actions %q, want %q", got, tt.actions)
			}
			if !slices.Equal(s.Resource, []string{tt.resource}) {
				t.Errorf("resource %q, want %q", s.Resource, tt.resource)
			}
			if tt.condition == "" {
				return
			}
			op, rest, _ := strings.Cut(tt.condition, "/")
			key, value, _ := strings.Cut(rest, "=")
			if !slices.Contains(s.Condition[op][key], value) {
				t.Errorf("condition %s %s lacks %q: %v", op, key, value, s.Condition)
			}
		})
	}
	t.Run("no wildcards", func(t *testing.T) {
		if len(policy) != len(tests) {
			t.Errorf("%d statements, want %d", len(policy), len(tests))
		}
		for sid, s := range policy {
			for _, a := range s.Action {
				if strings.Contains(a, "*") {
					t.Errorf("%s: wildcard action %q", sid, a)
				}
			}
			if slices.Contains(s.Resource, "*") && sid != "DoctorChecks" {
				t.Errorf("%s: Resource *", sid)
			}
		}
	})
}

// hclBalanced checks that braces, brackets and parentheses pair up outside
// strings and comments (no heredocs in main.tf: they are not handled).
func hclBalanced(src string) (string, bool) {
	var stack []rune
	pairs := map[rune]rune{'}': '{', ']': '[', ')': '('}
	inString, escaped := false, false
	for _, line := range strings.Split(src, "\n") {
		if !inString && strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, r := range line {
			switch {
			case inString && escaped:
				escaped = false
			case inString && r == '\\':
				escaped = true
			case r == '"':
				inString = !inString
			case inString:
			case r == '{' || r == '[' || r == '(':
				stack = append(stack, r)
			case r == '}' || r == ']' || r == ')':
				if len(stack) == 0 || stack[len(stack)-1] != pairs[r] {
					return "unexpected " + string(r) + " in: " + line, false
				}
				stack = stack[:len(stack)-1]
			}
		}
		if inString {
			return "unterminated string in: " + line, false
		}
	}
	if len(stack) > 0 {
		return "unclosed " + string(stack), false
	}
	return "", true
}

func TestTerraform(t *testing.T) {
	data, err := os.ReadFile("terraform/main.tf")
	if err != nil {
		t.Fatal(err)
	}
	src := string(data)
	if msg, ok := hclBalanced(src); !ok {
		t.Errorf("main.tf: %s", msg)
	}
	for _, re := range []string{
		`resource "aws_secretsmanager_secret" "\w+"`,
		`resource "aws_iam_role" "\w+"`,
		`resource "aws_iam_role_policy" "\w+"`,
		`resource "aws_iam_instance_profile" "\w+"`,
		`resource "aws_instance" "\w+"`,
		`file\("\$\{path\.module\}/\.\./iam-policy\.json"\)`,
		`(?m)^\s*http_tokens\s*=\s*"required"$`,
		`(?m)^\s*instance_metadata_tags\s*=\s*"enabled"$`,
		`(?m)^\s*"serialpass:secret"\s*=\s*aws_secretsmanager_secret\.\w+\.name$`,
		`(?m)^\s*iam_instance_profile\s*=\s*aws_iam_instance_profile\.\w+\.name$`,
		`key_prefixes\s*=\s*\["serialpass:status"\]`,
	} {
		if !regexp.MustCompile(re).MatchString(src) {
			t.Errorf("main.tf lacks %s", re)
		}
	}
	t.Run("checker can fail", func(t *testing.T) {
		for _, bad := range []string{"a {", "a }", `a = "{"  }`, "a = [1, 2)", `a = "x`} {
			if _, ok := hclBalanced(bad); ok {
				t.Errorf("hclBalanced(%q) = ok", bad)
			}
		}
	})
}

// TestDeployDoc checks that deploy.md's cloud-config blocks are YAML that
// cloud-init accepts and that the files it links exist.
func TestDeployDoc(t *testing.T) {
	data, err := os.ReadFile("deploy.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(data), -1)
	if len(blocks) < 2 {
		t.Fatalf("%d yaml blocks in deploy.md, want the install and the once snippets", len(blocks))
	}
	for i, b := range blocks {
		if !strings.HasPrefix(b[1], "#cloud-config\n") {
			t.Errorf("block %d does not start with #cloud-config", i)
		}
		var doc map[string]any
		if err := yaml.Unmarshal([]byte(b[1]), &doc); err != nil {
			t.Errorf("block %d: %v", i, err)
		}
		if doc["runcmd"] == nil && doc["bootcmd"] == nil {
			t.Errorf("block %d runs nothing", i)
		}
	}
	if !strings.Contains(string(data), "serialpass, once]") {
		t.Error("deploy.md lacks the `serialpass once` snippet")
	}
	for _, link := range regexp.MustCompile(`\]\(([\w./-]+)\)`).FindAllStringSubmatch(string(data), -1) {
		if _, err := os.Stat(link[1]); err != nil {
			t.Errorf("deploy.md links %s: %v", link[1], err)
		}
	}
}
