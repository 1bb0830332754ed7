// k8s-validate checks the Kubernetes manifests in deploy/ offline: every document decodes strictly
// into the k8s.io/api types (an unknown or duplicated field is an error, as `kubectl apply
// --validate=strict` would say), and the Deployment keeps kafka-mirror's own rules:
//
//   - probes: liveness on /healthz, readiness on /readyz, at the port `--http.listener 0.0.0.0:<port>` names;
//   - terminationGracePeriodSeconds above the stop deadline (SIGTERM → deliver, commit, exit);
//   - one group.id for every replica, from the ConfigMap, and no group.instance.id there;
//   - secrets only from the Secret: no secret value in the ConfigMap or in a literal env value;
//     ${env:VAR} and ${file:path:key} references resolve to the Secret's keys;
//   - runAsNonRoot, and resource requests and limits on every container.
//
// It prints every problem at once and exits 1 when there is any, 2 on bad usage.
//
// Usage: k8s-validate -stop-timeout-ms 25000 -secret-keys sasl.jaas.config,ssl.key.password deploy/
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// kustomization is the part of kustomize's Kustomization this project uses; decoding it strictly
// makes any other field (a generator, a patch) an error until this tool learns it.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
}

type manifests struct {
	deployments []*appsv1.Deployment
	configMaps  map[string]*corev1.ConfigMap
	secrets     map[string]*corev1.Secret
	pdbs        []*policyv1.PodDisruptionBudget
	services    []*corev1.Service
}

type report struct{ problems []string }

func (r *report) add(where, format string, args ...any) {
	r.problems = append(r.problems, where+": "+fmt.Sprintf(format, args...))
}

// Keys nobody declared are judged by their name, as src/config/secrets.ts does.
var secretName = regexp.MustCompile(`(?i)pass|secret|jaas|credential|token|^pfx$|(^|\.)key$`)

// ${provider:key} or ${provider:path:key}, as src/config/config-providers.ts reads them.
var reference = regexp.MustCompile(`\$\{([^:${}]+):(?:([^:${}]*):)?([^${}]+)\}`)

func main() {
	stopTimeoutMs := flag.Int("stop-timeout-ms", 0, "kafka-mirror's stop deadline (STOP_TIMEOUT_MS in src/mirror/mirror.ts)")
	secretKeys := flag.String("secret-keys", "", "comma-separated properties keys of type password (src/config/client-config.ts)")
	viewPath := flag.String("container-view", "", "write the container's view as JSON to this file: args, env from the Secret, mounted files")
	flag.Parse()
	if flag.NArg() != 1 || *stopTimeoutMs <= 0 {
		fmt.Fprintln(os.Stderr, "usage: k8s-validate -stop-timeout-ms <ms> [-secret-keys k1,k2] <folder with kustomization.yaml>")
		os.Exit(2)
	}
	declared := map[string]bool{}
	for _, k := range strings.Split(*secretKeys, ",") {
		if k != "" {
			declared[k] = true
		}
	}
	r := &report{}
	m := load(flag.Arg(0), r)
	if m != nil {
		check(m, *stopTimeoutMs, declared, r)
	}
	if len(r.problems) > 0 {
		for _, p := range r.problems {
			fmt.Println(p)
		}
		fmt.Printf("%d problem(s)\n", len(r.problems))
		os.Exit(1)
	}
	if *viewPath != "" {
		if err := writeContainerView(*viewPath, m); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	fmt.Printf("ok: %d deployment(s), %d configmap(s), %d secret(s), %d poddisruptionbudget(s), %d service(s)\n",
		len(m.deployments), len(m.configMaps), len(m.secrets), len(m.pdbs), len(m.services))
}

// load decodes kustomization.yaml's resources, and any *.example.yaml beside them (documents that
// are not applied but that the checks read, such as the Secret's shape).
func load(dir string, r *report) *manifests {
	raw, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		r.add(dir, "%v", err)
		return nil
	}
	var k kustomization
	if err := yaml.UnmarshalStrict(raw, &k); err != nil {
		r.add("kustomization.yaml", "%v", err)
		return nil
	}
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		r.add("kustomization.yaml", "apiVersion/kind is %s/%s, want kustomize.config.k8s.io/v1beta1/Kustomization", k.APIVersion, k.Kind)
	}
	files := append([]string{}, k.Resources...)
	listed := map[string]bool{}
	for _, f := range k.Resources {
		listed[f] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		r.add(dir, "%v", err)
		return nil
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || name == "kustomization.yaml" || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
			continue
		}
		if strings.HasSuffix(name, ".example.yaml") {
			files = append(files, name)
		} else if !listed[name] {
			r.add(name, "is not in kustomization.yaml's resources, so `kubectl apply -k` would skip it")
		}
	}
	m := &manifests{configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}}
	for _, f := range files {
		raw, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			r.add(f, "%v", err)
			continue
		}
		for i, doc := range splitDocuments(raw) {
			decode(fmt.Sprintf("%s (document %d)", f, i+1), doc, m, r)
		}
	}
	return m
}

func splitDocuments(raw []byte) [][]byte {
	var docs [][]byte
	for _, part := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(raw), -1) {
		if strings.TrimSpace(regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(part, "")) != "" {
			docs = append(docs, []byte(part))
		}
	}
	return docs
}

// decode picks the API type from apiVersion and kind, and decodes strictly into it.
func decode(where string, doc []byte, m *manifests, r *report) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		r.add(where, "not YAML: %v", err)
		return
	}
	var into any
	switch tm.APIVersion + " " + tm.Kind {
	case "apps/v1 Deployment":
		into = &appsv1.Deployment{}
	case "v1 ConfigMap":
		into = &corev1.ConfigMap{}
	case "v1 Secret":
		into = &corev1.Secret{}
	case "policy/v1 PodDisruptionBudget":
		into = &policyv1.PodDisruptionBudget{}
	case "v1 Service":
		into = &corev1.Service{}
	default:
		r.add(where, "apiVersion %q kind %q is not one this tool knows (apps/v1 Deployment, v1 ConfigMap, v1 Secret, policy/v1 PodDisruptionBudget, v1 Service)", tm.APIVersion, tm.Kind)
		return
	}
	if err := yaml.UnmarshalStrict(doc, into); err != nil {
		r.add(where, "%s: %v", tm.Kind, err)
		return
	}
	switch o := into.(type) {
	case *appsv1.Deployment:
		m.deployments = append(m.deployments, o)
	case *corev1.ConfigMap:
		m.configMaps[o.Name] = o
	case *corev1.Secret:
		m.secrets[o.Name] = o
	case *policyv1.PodDisruptionBudget:
		m.pdbs = append(m.pdbs, o)
	case *corev1.Service:
		m.services = append(m.services, o)
	}
	if meta, ok := into.(metav1.Object); ok && meta.GetName() == "" {
		r.add(where, "%s has no metadata.name", tm.Kind)
	}
}

func check(m *manifests, stopTimeoutMs int, declared map[string]bool, r *report) {
	if len(m.deployments) != 1 {
		r.add("deploy", "want exactly one Deployment, found %d", len(m.deployments))
		return
	}
	d := m.deployments[0]
	where := "Deployment " + d.Name
	spec := d.Spec.Template.Spec

	if d.Spec.Selector == nil {
		r.add(where, "spec.selector is missing")
		return
	}
	selector, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || selector.Empty() {
		r.add(where, "spec.selector is empty or invalid (%v)", err)
		return
	}
	podLabels := labels.Set(d.Spec.Template.Labels)
	if !selector.Matches(podLabels) {
		r.add(where, "spec.selector does not match the pod template's labels")
	}

	// The kubelet sends SIGTERM, waits the grace period, then SIGKILLs: a kill before kafka-mirror's
	// own deadline would cut off its last commits and copy records again at the next start.
	if spec.TerminationGracePeriodSeconds == nil {
		r.add(where, "set terminationGracePeriodSeconds above the stop deadline of %d s", stopTimeoutMs/1000)
	} else if *spec.TerminationGracePeriodSeconds*1000 <= int64(stopTimeoutMs) {
		r.add(where, "terminationGracePeriodSeconds %d is not above the stop deadline of %d s", *spec.TerminationGracePeriodSeconds, stopTimeoutMs/1000)
	}

	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		r.add(where, "strategy Recreate stops every replica at once; use RollingUpdate")
	}

	podNonRoot := spec.SecurityContext != nil && spec.SecurityContext.RunAsNonRoot != nil && *spec.SecurityContext.RunAsNonRoot
	if spec.SecurityContext != nil && spec.SecurityContext.RunAsUser != nil && *spec.SecurityContext.RunAsUser == 0 {
		r.add(where, "securityContext.runAsUser is 0 (root)")
	}

	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}
	if len(spec.InitContainers) > 0 {
		r.add(where, "init containers are not expected; each would need the same checks")
	}
	if len(spec.Containers) != 1 {
		r.add(where, "want one container, found %d", len(spec.Containers))
	}
	for _, c := range spec.Containers {
		checkContainer(where+" container "+c.Name, c, podNonRoot, volumes, m, declared, r)
	}

	if len(m.pdbs) == 0 {
		r.add("deploy", "no PodDisruptionBudget: a node drain may evict every replica at once")
	}
	for _, p := range m.pdbs {
		pw := "PodDisruptionBudget " + p.Name
		if p.Spec.MinAvailable == nil && p.Spec.MaxUnavailable == nil {
			r.add(pw, "set maxUnavailable (or minAvailable)")
		}
		if p.Spec.Selector == nil {
			r.add(pw, "spec.selector is missing")
			continue
		}
		s, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
		if err != nil || s.Empty() || !s.Matches(podLabels) {
			r.add(pw, "spec.selector does not select the Deployment's pods")
		}
	}
	for _, s := range m.services {
		if len(s.Spec.Selector) == 0 || !labels.SelectorFromSet(s.Spec.Selector).Matches(podLabels) {
			r.add("Service "+s.Name, "spec.selector does not select the Deployment's pods")
		}
	}
}

func checkContainer(where string, c corev1.Container, podNonRoot bool, volumes map[string]corev1.Volume, m *manifests, declared map[string]bool, r *report) {
	sc := c.SecurityContext
	nonRoot := podNonRoot
	if sc != nil && sc.RunAsNonRoot != nil {
		nonRoot = *sc.RunAsNonRoot
	}
	if !nonRoot {
		r.add(where, "set securityContext.runAsNonRoot: true (on the pod or the container)")
	}
	if sc != nil && sc.RunAsUser != nil && *sc.RunAsUser == 0 {
		r.add(where, "securityContext.runAsUser is 0 (root)")
	}
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		r.add(where, "set securityContext.allowPrivilegeEscalation: false")
	}

	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, hasReq := c.Resources.Requests[res]
		lim, hasLim := c.Resources.Limits[res]
		if !hasReq {
			r.add(where, "resources.requests.%s is not set", res)
		}
		if !hasLim {
			r.add(where, "resources.limits.%s is not set", res)
		}
		if hasReq && hasLim && req.Cmp(lim) > 0 {
			r.add(where, "resources.requests.%s %s is above the limit %s", res, req.String(), lim.String())
		}
	}

	flags := parseArgs(append(append([]string{}, c.Command...), c.Args...))

	// Probes: the health endpoints of the HTTP listener, on the port it binds on every interface.
	listener, ok := flags["http.listener"]
	port := 0
	if !ok {
		r.add(where, "args lack --http.listener 0.0.0.0:<port>: the probes need the health endpoints")
	} else {
		host, p, found := strings.Cut(listener, ":")
		n, err := strconv.Atoi(p)
		if !found || err != nil || n < 1 || n > 65535 {
			r.add(where, "--http.listener %q is not host:port", listener)
		} else if host != "0.0.0.0" && host != "::" && host != "[::]" {
			r.add(where, "--http.listener %q binds %s only; the kubelet probes the pod IP, so bind 0.0.0.0", listener, host)
		} else {
			port = n
		}
	}
	containerPorts := map[string]int32{}
	for _, p := range c.Ports {
		if p.Name != "" {
			containerPorts[p.Name] = p.ContainerPort
		}
	}
	checkProbe(where+" livenessProbe", c.LivenessProbe, "/healthz", port, containerPorts, r)
	checkProbe(where+" readinessProbe", c.ReadinessProbe, "/readyz", port, containerPorts, r)

	// Where each mounted file comes from.
	type mount struct {
		path   string
		volume corev1.Volume
	}
	var mounts []mount
	for _, vm := range c.VolumeMounts {
		v, ok := volumes[vm.Name]
		if !ok {
			r.add(where, "volumeMount %s names no volume", vm.Name)
			continue
		}
		mounts = append(mounts, mount{strings.TrimSuffix(vm.MountPath, "/"), v})
	}
	// fileAt returns the volume and the key a path in the container reads.
	fileAt := func(path string) (corev1.Volume, string, bool) {
		for _, mt := range mounts {
			if strings.HasPrefix(path, mt.path+"/") {
				rest := path[len(mt.path)+1:]
				return mt.volume, rest, true
			}
		}
		return corev1.Volume{}, "", false
	}

	// Environment: secret-looking values only through secretKeyRef to a known Secret and key.
	envFromSecret := map[string]bool{}
	envFromPodName := map[string]bool{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name":
			envFromPodName[e.Name] = true
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			if s, ok := m.secrets[ref.Name]; !ok {
				r.add(where, "env %s reads Secret %q, which deploy/ does not describe", e.Name, ref.Name)
			} else if !secretHasKey(s, ref.Key) {
				r.add(where, "env %s reads key %q, which Secret %s does not have", e.Name, ref.Key, ref.Name)
			} else {
				envFromSecret[e.Name] = true
			}
		case e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil && secretName.MatchString(e.Name):
			r.add(where, "env %s looks secret but comes from a ConfigMap; take it from the Secret", e.Name)
		case e.ValueFrom == nil && e.Value != "" && secretName.MatchString(e.Name):
			r.add(where, "env %s has a literal value and looks secret; take it from the Secret (secretKeyRef)", e.Name)
		}
	}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef != nil {
			r.add(where, "envFrom a ConfigMap: give each variable by name, secrets from the Secret")
		}
	}

	// The properties files: from the ConfigMap, one group.id for all, secrets as references.
	for _, flagName := range []string{"consumer.config", "producer.config"} {
		path, ok := flags[flagName]
		if !ok {
			r.add(where, "args lack --%s", flagName)
			continue
		}
		v, key, ok := fileAt(path)
		if !ok || v.ConfigMap == nil {
			r.add(where, "--%s %s is not a file of a mounted ConfigMap", flagName, path)
			continue
		}
		cmWhere := "ConfigMap " + v.ConfigMap.Name + " " + key
		cm, ok := m.configMaps[v.ConfigMap.Name]
		if !ok {
			r.add(where, "--%s reads ConfigMap %q, which deploy/ does not describe", flagName, v.ConfigMap.Name)
			continue
		}
		text, ok := cm.Data[key]
		if !ok {
			r.add(where, "--%s reads key %q, which ConfigMap %s does not have", flagName, key, cm.Name)
			continue
		}
		props := parseProperties(text)
		if flagName == "consumer.config" {
			if props["group.id"] == "" {
				r.add(cmWhere, "set group.id: every replica must join the same consumer group (the default would do, but say it)")
			} else if reference.MatchString(props["group.id"]) {
				r.add(cmWhere, "group.id is a reference; replicas must share one literal group.id")
			}
			// Static membership needs an id per pod: ${env:VAR} with VAR set from the pod's name.
			if id, ok := props["group.instance.id"]; ok {
				ref := reference.FindStringSubmatch(id)
				if ref == nil || ref[0] != id || !envFromPodName[ref[3]] {
					r.add(cmWhere, "group.instance.id in a file every replica reads gives all of them the same static id: they would fence each other (write ${env:POD_NAME}, POD_NAME set from the fieldRef metadata.name)")
				}
			}
		}
		for _, k := range sortedKeys(props) {
			value := props[k]
			if !(declared[k] || secretName.MatchString(k)) || strings.HasPrefix(k, "config.providers") {
				continue
			}
			refs := reference.FindAllStringSubmatch(value, -1)
			if len(refs) == 0 {
				r.add(cmWhere, "%s holds a secret in the ConfigMap; write ${env:VAR} or ${file:path:key} and keep the value in the Secret", k)
				continue
			}
			// What is left once the references go must not contain a password either: a JAAS line
			// with password="literal" next to a referenced username.
			rest := reference.ReplaceAllString(value, "")
			if regexp.MustCompile(`(?i)password\s*=\s*"[^"]+"`).MatchString(rest) {
				r.add(cmWhere, "%s has a literal password; make it a reference", k)
			}
			for _, ref := range refs {
				checkReference(cmWhere+" "+k, ref, props, envFromSecret, fileAt, m, r)
			}
		}
	}
}

// checkReference follows ${provider:…} to the Secret: an env variable set from the Secret, or a
// key of a properties file that a Secret volume mounts.
func checkReference(where string, ref []string, props map[string]string, envFromSecret map[string]bool, fileAt func(string) (corev1.Volume, string, bool), m *manifests, r *report) {
	provider, path, key := ref[1], ref[2], ref[3]
	enabled := false
	for _, p := range strings.Split(props["config.providers"], ",") {
		enabled = enabled || strings.TrimSpace(p) == provider
	}
	if !enabled {
		r.add(where, "%s uses provider %q, which config.providers does not enable", ref[0], provider)
		return
	}
	switch props["config.providers."+provider+".class"] {
	case "org.apache.kafka.common.config.provider.EnvVarConfigProvider":
		if !envFromSecret[key] {
			r.add(where, "%s: the container sets no %s from the Secret (env valueFrom.secretKeyRef)", ref[0], key)
		}
	case "org.apache.kafka.common.config.provider.FileConfigProvider":
		v, file, ok := fileAt(path)
		if !ok || v.Secret == nil {
			r.add(where, "%s: %s is not a file of a mounted Secret", ref[0], path)
			return
		}
		s, ok := m.secrets[v.Secret.SecretName]
		if !ok {
			r.add(where, "%s: Secret %q is not described in deploy/", ref[0], v.Secret.SecretName)
			return
		}
		secretKey := file
		for _, item := range v.Secret.Items {
			if item.Path == file {
				secretKey = item.Key
			}
		}
		if !secretHasKey(s, secretKey) {
			r.add(where, "%s: Secret %s has no key %q", ref[0], s.Name, secretKey)
			return
		}
		content := s.StringData[secretKey]
		if content == "" {
			content = string(s.Data[secretKey])
		}
		if _, ok := parseProperties(content)[key]; !ok {
			r.add(where, "%s: Secret %s key %s has no property %q", ref[0], s.Name, secretKey, key)
		}
		allowed := false
		for _, a := range strings.Split(props["config.providers."+provider+".param.allowed.paths"], ",") {
			a = strings.TrimSuffix(strings.TrimSpace(a), "/")
			allowed = allowed || (a != "" && (path == a || strings.HasPrefix(path, a+"/")))
		}
		if !allowed {
			r.add(where, "%s: %s is outside config.providers.%s.param.allowed.paths", ref[0], path, provider)
		}
	default:
		r.add(where, "%s: config.providers.%s.class is not the env or file provider", ref[0], provider)
	}
}

func checkProbe(where string, p *corev1.Probe, path string, port int, containerPorts map[string]int32, r *report) {
	if p == nil {
		r.add(where, "is missing (want GET %s)", path)
		return
	}
	if p.HTTPGet == nil {
		r.add(where, "is not an httpGet probe on %s", path)
		return
	}
	if p.HTTPGet.Path != path {
		r.add(where, "path is %q, want %s", p.HTTPGet.Path, path)
	}
	got := int(p.HTTPGet.Port.IntVal)
	if p.HTTPGet.Port.StrVal != "" {
		n, ok := containerPorts[p.HTTPGet.Port.StrVal]
		if !ok {
			r.add(where, "port %q names no container port", p.HTTPGet.Port.StrVal)
			return
		}
		got = int(n)
	}
	if port != 0 && got != port {
		r.add(where, "port is %d, but --http.listener binds %d", got, port)
	}
}

// parseArgs reads `--name value` and `--name=value` pairs; a flag followed by another flag has
// the value "true".
func parseArgs(args []string) map[string]string {
	flags := map[string]string{}
	for i := 0; i < len(args); i++ {
		if !strings.HasPrefix(args[i], "--") {
			continue
		}
		name := args[i][2:]
		if n, v, found := strings.Cut(name, "="); found {
			flags[n] = v
		} else if i+1 < len(args) && !strings.HasPrefix(args[i+1], "--") {
			flags[name] = args[i+1]
			i++
		} else {
			flags[name] = "true"
		}
	}
	return flags
}

// parseProperties reads Java properties the simple way the manifests use them: key=value or
// key:value per line, # and ! comments, a trailing backslash continuing the line.
func parseProperties(text string) map[string]string {
	props := map[string]string{}
	var logical []string
	var buf bytes.Buffer
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimLeft(line, " \t")
		if buf.Len() == 0 && (line == "" || line[0] == '#' || line[0] == '!') {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			buf.WriteString(strings.TrimSuffix(line, "\\"))
			continue
		}
		buf.WriteString(line)
		logical = append(logical, buf.String())
		buf.Reset()
	}
	if buf.Len() > 0 {
		logical = append(logical, buf.String())
	}
	for _, l := range logical {
		i := strings.IndexAny(l, "=:")
		if i < 0 {
			props[strings.TrimSpace(l)] = ""
			continue
		}
		props[strings.TrimSpace(l[:i])] = strings.TrimSpace(l[i+1:])
	}
	return props
}

func secretHasKey(s *corev1.Secret, key string) bool {
	_, inData := s.Data[key]
	_, inStringData := s.StringData[key]
	return inData || inStringData
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// containerView is what the container sees, so that a test can run kafka-mirror --validate on it:
// its arguments, the environment variables it takes from Secrets, and the files its ConfigMap and
// Secret volumes mount (with the Secret's example values).
type containerView struct {
	Args  []string          `json:"args"`
	Env   map[string]string `json:"env"`
	Files map[string]string `json:"files"`
}

func writeContainerView(path string, m *manifests) error {
	spec := m.deployments[0].Spec.Template.Spec
	c := spec.Containers[0]
	view := containerView{Args: append(append([]string{}, c.Command...), c.Args...), Env: map[string]string{}, Files: map[string]string{}}
	secretValue := func(s *corev1.Secret, key string) string {
		if v, ok := s.StringData[key]; ok {
			return v
		}
		return string(s.Data[key])
	}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			view.Env[e.Name] = secretValue(m.secrets[e.ValueFrom.SecretKeyRef.Name], e.ValueFrom.SecretKeyRef.Key)
		} else if e.ValueFrom == nil {
			view.Env[e.Name] = e.Value
		}
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}
	for _, vm := range c.VolumeMounts {
		v := volumes[vm.Name]
		dir := strings.TrimSuffix(vm.MountPath, "/")
		switch {
		case v.ConfigMap != nil:
			for k, text := range m.configMaps[v.ConfigMap.Name].Data {
				view.Files[dir+"/"+k] = text
			}
		case v.Secret != nil:
			s := m.secrets[v.Secret.SecretName]
			if len(v.Secret.Items) == 0 {
				for k := range s.StringData {
					view.Files[dir+"/"+k] = secretValue(s, k)
				}
				for k := range s.Data {
					view.Files[dir+"/"+k] = secretValue(s, k)
				}
			}
			for _, item := range v.Secret.Items {
				view.Files[dir+"/"+item.Path] = secretValue(s, item.Key)
			}
		}
	}
	out, err := json.MarshalIndent(view, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, 0o600)
}
