/* link.c: attach programs and manage the attachments.
 *
 * XDP and cgroup attachments are kernel bpf_links: closing the last fd detaches them unless they
 * are pinned, and update() swaps the program atomically. tc attachments are netlink filters on a
 * clsact qdisc (libbpf 1.1 has no tcx): they stay on the device until detach(), update() replaces
 * the filter in place (same handle and priority), and they cannot be pinned. A tc handle keeps a
 * duplicate of the program fd so it has an fd like every other handle. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include "kpb.h"

static struct kpb_handle *link_arg(napi_env env, napi_value v)
{
	return kpb_handle_arg(env, v, KPB_LINK, "link");
}

static bool ifindex_arg(napi_env env, napi_value v, const char *op, const char *prog, int *ifindex)
{
	uint32_t i;
	char name[IF_NAMESIZE];
	if (!kpb_get_u32(env, v, "ifindex", &i))
		return false;
	if (i == 0 || i > INT32_MAX || !if_indextoname(i, name)) {
		kpb_throw(env, ENODEV, op, prog, "Attach program \"%s\" to ifindex %u failed: no such interface", prog, i);
		return false;
	}
	*ifindex = (int)i;
	return true;
}

static napi_value new_fd_link(napi_env env, int fd, const char *name)
{
	napi_value out;
	struct kpb_handle *h = kpb_handle_new(env, KPB_LINK, &out);
	if (!h) {
		close(fd);
		return NULL;
	}
	h->fd = fd;
	h->link_kind = KPB_LINK_FD;
	snprintf(h->name, sizeof(h->name), "%s", name);
	return out;
}

/* attachXdp(program, ifindex, mode 'native'|'generic'). */
static napi_value js_attach_xdp(napi_env env, napi_callback_info info)
{
	KPB_ARGS(3);
	struct kpb_handle *p = kpb_handle_arg(env, argv[0], KPB_PROG, "program");
	char mode[16];
	int ifindex;
	uint32_t flags;
	if (!p || !ifindex_arg(env, argv[1], "attach_xdp", p->name, &ifindex) ||
	    !kpb_get_string(env, argv[2], "mode", mode, sizeof(mode)))
		return NULL;
	if (!strcmp(mode, "native"))
		flags = XDP_FLAGS_DRV_MODE;
	else if (!strcmp(mode, "generic"))
		flags = XDP_FLAGS_SKB_MODE;
	else {
		kpb_throw_type(env, "Expected 'native' or 'generic' for \"mode\"");
		return NULL;
	}
	LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = flags);
	int fd = bpf_link_create(p->fd, ifindex, BPF_XDP, &opts);
	if (fd < 0) {
		kpb_throw(env, errno, "attach_xdp", p->name, "Attach XDP program \"%s\" to ifindex %d (%s mode) failed",
			  p->name, ifindex, mode);
		return NULL;
	}
	return new_fd_link(env, fd, p->name);
}

static bool direction_arg(napi_env env, napi_value v, enum bpf_tc_attach_point *ap)
{
	char dir[16];
	if (!kpb_get_string(env, v, "direction", dir, sizeof(dir)))
		return false;
	if (!strcmp(dir, "ingress"))
		*ap = BPF_TC_INGRESS;
	else if (!strcmp(dir, "egress"))
		*ap = BPF_TC_EGRESS;
	else {
		kpb_throw_type(env, "Expected 'ingress' or 'egress' for \"direction\"");
		return false;
	}
	return true;
}

static bool priority_arg(napi_env env, napi_value v, uint32_t *priority)
{
	if (kpb_is_nullish(env, v))
		return true;
	if (!kpb_get_u32(env, v, "priority", priority))
		return false;
	if (*priority > 0xffff) {
		napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "The value of \"priority\" is out of range: 0..65535");
		return false;
	}
	return true;
}

/* attachTc(program, ifindex, direction, handle, priority, replace). With `replace` an existing
 * filter at the same handle and priority gets the new program in place (no gap in between). */
static napi_value js_attach_tc(napi_env env, napi_callback_info info)
{
	KPB_ARGS(6);
	struct kpb_handle *p = kpb_handle_arg(env, argv[0], KPB_PROG, "program");
	int ifindex, err;
	uint32_t handle = 0, priority = 0;
	bool replace = false;
	napi_value out;
	enum bpf_tc_attach_point ap;
	if (!p || !ifindex_arg(env, argv[1], "attach_tc", p->name, &ifindex) || !direction_arg(env, argv[2], &ap) ||
	    (!kpb_is_nullish(env, argv[3]) && !kpb_get_u32(env, argv[3], "handle", &handle)) ||
	    !priority_arg(env, argv[4], &priority))
		return NULL;
	if (!kpb_is_nullish(env, argv[5]) && napi_get_value_bool(env, argv[5], &replace) != napi_ok) {
		kpb_throw_type(env, "Expected boolean for \"replace\"");
		return NULL;
	}
	const char *dir = ap == BPF_TC_INGRESS ? "ingress" : "egress";
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = ap);
	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST) {
		kpb_throw(env, -err, "attach_tc", p->name, "Create clsact qdisc on ifindex %d for program \"%s\" failed",
			  ifindex, p->name);
		return NULL;
	}
	LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = p->fd, .handle = handle, .priority = priority,
		    .flags = replace ? BPF_TC_F_REPLACE : 0);
	if (replace && (!handle || !priority)) {
		kpb_throw_type(env, "Expected \"handle\" and \"priority\" with \"replace\" (they name the filter to replace)");
		return NULL;
	}
	err = bpf_tc_attach(&hook, &opts);
	if (err) {
		kpb_throw(env, -err, "attach_tc", p->name, "Attach tc program \"%s\" to ifindex %d %s failed", p->name,
			  ifindex, dir);
		return NULL;
	}
	int fd = fcntl(p->fd, F_DUPFD_CLOEXEC, 3);
	int e = errno;
	struct kpb_handle *h = fd >= 0 ? kpb_handle_new(env, KPB_LINK, &out) : NULL;
	if (!h) {
		/* Without a handle nobody could detach it later: undo the attach. */
		LIBBPF_OPTS(bpf_tc_opts, d, .handle = opts.handle, .priority = opts.priority);
		bpf_tc_detach(&hook, &d);
		if (fd < 0)
			kpb_throw(env, e, "attach_tc", p->name, "Duplicate fd of program \"%s\" failed", p->name);
		else
			close(fd);
		return NULL;
	}
	h->fd = fd;
	h->link_kind = KPB_LINK_TC;
	h->tc_ifindex = ifindex;
	h->tc_attach_point = ap;
	h->tc_handle = opts.handle;
	h->tc_priority = opts.priority;
	snprintf(h->name, sizeof(h->name), "%s", p->name);
	return out;
}

/* Filter arguments shared by tcQuery and tcDetach: (ifindex, direction, handle, priority). The
 * interface must exist; handle and priority are both needed to name one filter. */
static bool tc_filter_args(napi_env env, napi_value *argv, const char *op, struct bpf_tc_hook *hook,
			   struct bpf_tc_opts *opts)
{
	uint32_t i, handle, priority = 0;
	enum bpf_tc_attach_point ap;
	char name[IF_NAMESIZE];
	if (!kpb_get_u32(env, argv[0], "ifindex", &i) || !direction_arg(env, argv[1], &ap) ||
	    !kpb_get_u32(env, argv[2], "handle", &handle) || !kpb_get_u32(env, argv[3], "priority", &priority) ||
	    !priority_arg(env, argv[3], &priority))
		return false;
	if (i == 0 || i > INT32_MAX || !if_indextoname(i, name)) {
		kpb_throw(env, ENODEV, op, "", "Find tc filter on ifindex %u failed: no such interface", i);
		return false;
	}
	if (!handle || !priority) {
		napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "\"handle\" and \"priority\" must be non-zero");
		return false;
	}
	hook->ifindex = (int)i;
	hook->attach_point = ap;
	opts->handle = handle;
	opts->priority = priority;
	return true;
}

/* tcQuery(ifindex, direction, handle, priority) -> id of the filter's program, 0 when there is no
 * such filter (or no clsact qdisc, which the kernel reports as EINVAL). */
static napi_value js_tc_query(napi_env env, napi_callback_info info)
{
	KPB_ARGS(4);
	LIBBPF_OPTS(bpf_tc_hook, hook);
	LIBBPF_OPTS(bpf_tc_opts, opts);
	napi_value out;
	if (!tc_filter_args(env, argv, "tc_query", &hook, &opts))
		return NULL;
	int err = bpf_tc_query(&hook, &opts);
	if (err == -ENOENT || err == -EINVAL) {
		opts.prog_id = 0;
	} else if (err) {
		kpb_throw(env, -err, "tc_query", "", "Query tc filter %u:%u on ifindex %d failed", opts.priority,
			  opts.handle, hook.ifindex);
		return NULL;
	}
	KPB_TRY(napi_create_uint32(env, opts.prog_id, &out));
	return out;
}

/* tcDetach(ifindex, direction, handle, priority) -> whether a filter was removed. */
static napi_value js_tc_detach(napi_env env, napi_callback_info info)
{
	KPB_ARGS(4);
	LIBBPF_OPTS(bpf_tc_hook, hook);
	LIBBPF_OPTS(bpf_tc_opts, opts);
	napi_value out;
	if (!tc_filter_args(env, argv, "tc_detach", &hook, &opts))
		return NULL;
	int err = bpf_tc_detach(&hook, &opts);
	if (err && err != -ENOENT && err != -EINVAL) {
		kpb_throw(env, -err, "tc_detach", "", "Remove tc filter %u:%u from ifindex %d failed", opts.priority,
			  opts.handle, hook.ifindex);
		return NULL;
	}
	KPB_TRY(napi_get_boolean(env, err == 0, &out));
	return out;
}

/* xdpQuery(ifindex) -> { mode: 'none'|'native'|'generic'|'offload'|'multi', progId, nativeProgId,
 * genericProgId }: what XDP program the interface runs, however it was attached. */
static napi_value js_xdp_query(napi_env env, napi_callback_info info)
{
	KPB_ARGS(1);
	uint32_t i;
	char name[IF_NAMESIZE];
	napi_value out;
	static const char *modes[] = { "none", "native", "generic", "offload", "multi" };
	if (!kpb_get_u32(env, argv[0], "ifindex", &i))
		return NULL;
	if (i == 0 || i > INT32_MAX || !if_indextoname(i, name)) {
		kpb_throw(env, ENODEV, "xdp_query", "", "Query XDP on ifindex %u failed: no such interface", i);
		return NULL;
	}
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	int err = bpf_xdp_query((int)i, 0, &q);
	if (err) {
		kpb_throw(env, -err, "xdp_query", name, "Query XDP on \"%s\" failed", name);
		return NULL;
	}
	KPB_TRY(napi_create_object(env, &out));
	kpb_set_str(env, out, "mode", q.attach_mode < 5 ? modes[q.attach_mode] : "unknown");
	kpb_set_u32(env, out, "progId", q.prog_id);
	kpb_set_u32(env, out, "nativeProgId", q.drv_prog_id);
	kpb_set_u32(env, out, "genericProgId", q.skb_prog_id);
	return out;
}

/* libbpf's names ("cgroup_inet4_connect") back to enum values. */
static int attach_type_by_name(const char *name)
{
	for (int t = 0; t < 512; t++) {
		const char *s = libbpf_bpf_attach_type_str(t);
		if (s && !strcmp(s, name))
			return t;
	}
	return -1;
}

/* attachCgroup(program, cgroupPath, attachType). */
static napi_value js_attach_cgroup(napi_env env, napi_callback_info info)
{
	KPB_ARGS(3);
	struct kpb_handle *p = kpb_handle_arg(env, argv[0], KPB_PROG, "program");
	char path[4096], at[64];
	if (!p || !kpb_get_string(env, argv[1], "cgroupPath", path, sizeof(path)) ||
	    !kpb_get_string(env, argv[2], "attachType", at, sizeof(at)))
		return NULL;
	int type = attach_type_by_name(at);
	if (type < 0) {
		kpb_throw(env, EINVAL, "attach_cgroup", p->name, "Attach program \"%s\" failed: unknown attach type \"%s\"",
			  p->name, at);
		return NULL;
	}
	int cg = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg < 0) {
		kpb_throw(env, errno, "attach_cgroup", p->name, "Open cgroup \"%s\" for program \"%s\" failed", path,
			  p->name);
		return NULL;
	}
	int fd = bpf_link_create(p->fd, cg, (enum bpf_attach_type)type, NULL);
	int e = errno;
	close(cg);
	if (fd < 0) {
		kpb_throw(env, e, "attach_cgroup", p->name, "Attach program \"%s\" to cgroup \"%s\" as %s failed",
			  p->name, path, at);
		return NULL;
	}
	return new_fd_link(env, fd, p->name);
}

/* linkUpdate(link, program): atomic replacement. */
static napi_value js_link_update(napi_env env, napi_callback_info info)
{
	KPB_ARGS(2);
	struct kpb_handle *l = link_arg(env, argv[0]);
	struct kpb_handle *p = l ? kpb_handle_arg(env, argv[1], KPB_PROG, "program") : NULL;
	if (!p)
		return NULL;
	if (l->link_kind == KPB_LINK_FD) {
		if (bpf_link_update(l->fd, p->fd, NULL)) {
			kpb_throw(env, errno, "link_update", l->name, "Update link of \"%s\" to program \"%s\" failed",
				  l->name, p->name);
			return NULL;
		}
	} else {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = l->tc_ifindex, .attach_point = l->tc_attach_point);
		LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = p->fd, .flags = BPF_TC_F_REPLACE, .handle = l->tc_handle,
			    .priority = l->tc_priority);
		int err = bpf_tc_attach(&hook, &opts);
		if (err) {
			kpb_throw(env, -err, "link_update", l->name, "Replace tc filter of \"%s\" with \"%s\" failed",
				  l->name, p->name);
			return NULL;
		}
		int fd = fcntl(p->fd, F_DUPFD_CLOEXEC, 3);
		if (fd >= 0) {
			close(l->fd);
			l->fd = fd;
		}
	}
	snprintf(l->name, sizeof(l->name), "%s", p->name);
	return kpb_undefined(env);
}

/* linkPin(link, path). */
static napi_value js_link_pin(napi_env env, napi_callback_info info)
{
	KPB_ARGS(2);
	struct kpb_handle *l = link_arg(env, argv[0]);
	if (!l)
		return NULL;
	if (l->link_kind == KPB_LINK_TC) {
		kpb_throw(env, EOPNOTSUPP, "link_pin", l->name,
			  "Pin tc attachment of \"%s\" failed: tc filters are netlink objects without a bpf_link "
			  "(they stay attached after exit; re-attach with replace to update)",
			  l->name);
		return NULL;
	}
	return kpb_pin_handle(env, l, argv[1], "link_pin", "link of");
}

/* linkDetach(link): remove the attachment now, even if the link is pinned. */
static napi_value js_link_detach(napi_env env, napi_callback_info info)
{
	KPB_ARGS(1);
	struct kpb_handle *l = link_arg(env, argv[0]);
	if (!l)
		return NULL;
	if (l->link_kind == KPB_LINK_FD) {
		if (bpf_link_detach(l->fd)) {
			kpb_throw(env, errno, "link_detach", l->name, "Detach link of \"%s\" failed", l->name);
			return NULL;
		}
	} else {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = l->tc_ifindex, .attach_point = l->tc_attach_point);
		LIBBPF_OPTS(bpf_tc_opts, opts, .handle = l->tc_handle, .priority = l->tc_priority);
		int err = bpf_tc_detach(&hook, &opts);
		if (err) {
			kpb_throw(env, -err, "link_detach", l->name, "Detach tc filter of \"%s\" from ifindex %d failed",
				  l->name, l->tc_ifindex);
			return NULL;
		}
	}
	return kpb_undefined(env);
}

/* linkOpenPinned(path) -> link handle. */
static napi_value js_link_open_pinned(napi_env env, napi_callback_info info)
{
	KPB_ARGS(1);
	char path[4096];
	int fd = kpb_open_pinned_fd(env, argv[0], "link_type:", "link_open_pinned", "link", path, sizeof(path));
	return fd < 0 ? NULL : new_fd_link(env, fd, path);
}

/* linkInfo(link) -> { id, type, progId } (bpf_link) or { type: 'tc', ifindex, ... }. */
static napi_value js_link_info(napi_env env, napi_callback_info info)
{
	KPB_ARGS(1);
	struct kpb_handle *l = link_arg(env, argv[0]);
	napi_value out;
	if (!l)
		return NULL;
	KPB_TRY(napi_create_object(env, &out));
	if (l->link_kind == KPB_LINK_TC) {
		struct bpf_prog_info pi;
		uint32_t len = sizeof(pi);
		memset(&pi, 0, sizeof(pi));
		bpf_obj_get_info_by_fd(l->fd, &pi, &len);
		kpb_set_str(env, out, "type", "tc");
		kpb_set_u32(env, out, "progId", pi.id);
		kpb_set_u32(env, out, "ifindex", (uint32_t)l->tc_ifindex);
		kpb_set_str(env, out, "direction", l->tc_attach_point == BPF_TC_INGRESS ? "ingress" : "egress");
		kpb_set_u32(env, out, "handle", l->tc_handle);
		kpb_set_u32(env, out, "priority", l->tc_priority);
		return out;
	}
	struct bpf_link_info li;
	uint32_t len = sizeof(li);
	memset(&li, 0, sizeof(li));
	if (bpf_obj_get_info_by_fd(l->fd, &li, &len)) {
		kpb_throw(env, errno, "link_info", l->name, "Read info of link \"%s\" failed", l->name);
		return NULL;
	}
	const char *ts = libbpf_bpf_link_type_str(li.type);
	kpb_set_u32(env, out, "id", li.id);
	kpb_set_str(env, out, "type", ts ? ts : "unknown");
	kpb_set_u32(env, out, "progId", li.prog_id);
	/* A link detached by someone else stays open but points nowhere: ifindex or cgroup id 0. */
	if (li.type == BPF_LINK_TYPE_XDP) {
		kpb_set_u32(env, out, "ifindex", li.xdp.ifindex);
		kpb_set_bool(env, out, "attached", li.xdp.ifindex != 0);
	} else if (li.type == BPF_LINK_TYPE_CGROUP) {
		const char *at = libbpf_bpf_attach_type_str(li.cgroup.attach_type);
		napi_value id;
		KPB_TRY(napi_create_bigint_uint64(env, li.cgroup.cgroup_id, &id));
		KPB_TRY(napi_set_named_property(env, out, "cgroupId", id));
		kpb_set_str(env, out, "attachType", at ? at : "unknown");
		kpb_set_bool(env, out, "attached", li.cgroup.cgroup_id != 0);
	}
	return out;
}

void kpb_link_init(napi_env env, napi_value exports)
{
	kpb_export(env, exports, "attachXdp", js_attach_xdp);
	kpb_export(env, exports, "attachTc", js_attach_tc);
	kpb_export(env, exports, "attachCgroup", js_attach_cgroup);
	kpb_export(env, exports, "linkUpdate", js_link_update);
	kpb_export(env, exports, "linkPin", js_link_pin);
	kpb_export(env, exports, "linkDetach", js_link_detach);
	kpb_export(env, exports, "linkOpenPinned", js_link_open_pinned);
	kpb_export(env, exports, "linkInfo", js_link_info);
	kpb_export(env, exports, "tcQuery", js_tc_query);
	kpb_export(env, exports, "tcDetach", js_tc_detach);
	kpb_export(env, exports, "xdpQuery", js_xdp_query);
}
