package imdsemu

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"time"
)

// SetTag sets one tag (and enables tags in metadata).
func (s *Server) SetTag(key, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tags[key] = value
	s.tagsOn = true
}

// DeleteTag removes one tag.
func (s *Server) DeleteTag(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tags, key)
}

// SetTags replaces all tags (and enables tags in metadata).
func (s *Server) SetTags(tags map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tags = maps.Clone(tags)
	if s.tags == nil {
		s.tags = map[string]string{}
	}
	s.tagsOn = true
}

// DisableTags stops exposing tags: tags/instance answers 404, as on an
// instance launched without InstanceMetadataTags=enabled. The tags are
// kept; EnableTags exposes them again.
func (s *Server) DisableTags() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tagsOn = false
}

// EnableTags exposes tags again. With no tags, the listing is empty (200).
func (s *Server) EnableTags() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tagsOn = true
}

// Tags returns a copy of the current tags.
func (s *Server) Tags() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.tags)
}

// lookup returns the body for a GET path under /latest/, or false.
func (s *Server) lookup(path string) (string, bool) {
	switch path {
	case "/":
		return "latest", true
	case "/latest", "/latest/":
		return "dynamic\nmeta-data", true
	}
	rel, ok := strings.CutPrefix(path, "/latest/")
	if !ok {
		return "", false
	}
	leaves, dirs := s.tree()
	if v, ok := leaves[rel]; ok {
		return v, true
	}
	dir := strings.TrimSuffix(rel, "/")
	if dir != "" {
		dir += "/"
	}
	if !dirs[dir] {
		return "", false
	}
	return listing(dir, leaves, dirs), true
}

// listing names the children of dir, subdirectories with a trailing slash.
func listing(dir string, leaves map[string]string, dirs map[string]bool) string {
	seen := map[string]bool{}
	for p := range leaves {
		if rest, ok := strings.CutPrefix(p, dir); ok {
			seen[rest] = true
		}
	}
	for d := range dirs {
		if rest, ok := strings.CutPrefix(d, dir); ok && rest != "" {
			seen[rest] = true
		}
	}
	var names []string
	for rest := range seen {
		name, _, sub := strings.Cut(rest, "/")
		if sub {
			name += "/"
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return strings.Join(slices.Compact(names), "\n")
}

// tree is the current metadata: leaf paths relative to /latest/ and every
// directory (with trailing slash; "" is /latest/ itself).
func (s *Server) tree() (map[string]string, map[string]bool) {
	o := s.opts
	now := o.Now().UTC().Truncate(time.Second)
	leaves := map[string]string{
		"meta-data/ami-id":                      o.ImageID,
		"meta-data/hostname":                    "ip-" + strings.ReplaceAll(o.PrivateIP, ".", "-") + "." + o.Region + ".compute.internal",
		"meta-data/instance-id":                 o.InstanceID,
		"meta-data/instance-type":               o.InstanceType,
		"meta-data/local-ipv4":                  o.PrivateIP,
		"meta-data/placement/availability-zone": o.AvailabilityZone,
		"meta-data/placement/region":            o.Region,
		"meta-data/services/domain":             "amazonaws.com",
		"meta-data/services/partition":          "aws",
		"dynamic/instance-identity/document":    s.identityDocument(),
	}
	if !o.NoRole {
		leaves["meta-data/iam/info"] = awsJSON(
			"Code", "Success",
			"LastUpdated", s.started.Format(time.RFC3339),
			"InstanceProfileArn", "arn:aws:iam::"+o.AccountID+":instance-profile/"+o.Role,
			"InstanceProfileId", "AIPAEMULATEDPROFILE01",
		)
		leaves["meta-data/iam/security-credentials/"+o.Role] = awsJSON(
			"Code", "Success",
			"LastUpdated", now.Format(time.RFC3339),
			"Type", "AWS-HMAC",
			"AccessKeyId", "ASIAEMULATEDKEY00001",
			"SecretAccessKey", "emulated/secret/access/key/not/real/000000",
			"Token", "IQoJb3JpZ2luX2VjEMULATED//////////token",
			// Always six hours ahead: the credentials never expire.
			"Expiration", now.Add(6*time.Hour).Format(time.RFC3339),
		)
	}
	dirs := map[string]bool{}
	s.mu.Lock()
	if s.tagsOn {
		dirs["meta-data/tags/instance/"] = true
		for k, v := range s.tags {
			leaves["meta-data/tags/instance/"+k] = v
		}
	}
	s.mu.Unlock()
	for p := range leaves {
		for i := range len(p) {
			if p[i] == '/' {
				dirs[p[:i+1]] = true
			}
		}
	}
	for d := range maps.Clone(dirs) {
		for i := range len(d) - 1 {
			if d[i] == '/' {
				dirs[d[:i+1]] = true
			}
		}
	}
	dirs[""] = true
	return leaves, dirs
}

// identityDocument renders the document in AWS's key order and layout.
func (s *Server) identityDocument() string {
	o := s.opts
	return awsJSON(
		"accountId", o.AccountID,
		"architecture", "x86_64",
		"availabilityZone", o.AvailabilityZone,
		"billingProducts", nil,
		"devpayProductCodes", nil,
		"marketplaceProductCodes", nil,
		"imageId", o.ImageID,
		"instanceId", o.InstanceID,
		"instanceType", o.InstanceType,
		"kernelId", nil,
		"pendingTime", s.started.Format(time.RFC3339),
		"privateIp", o.PrivateIP,
		"ramdiskId", nil,
		"region", o.Region,
		"version", "2017-09-30",
	)
}

// awsJSON writes key/value pairs in order, the way IMDS formats its JSON
// documents: two-space indent and " : " between key and value.
func awsJSON(kv ...any) string {
	var b strings.Builder
	b.WriteString("{\n")
	for i := 0; i+1 < len(kv); i += 2 {
		k, _ := json.Marshal(kv[i])
		v, _ := json.Marshal(kv[i+1]) // strings and nil only: cannot fail
		b.WriteString("  " + string(k) + " : " + string(v))
		if i+2 < len(kv) {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("}")
	return b.String()
}
