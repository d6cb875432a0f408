/* btf_layout.c: describe a map key/value or a global variable as a plain layout object, read from
 * the object's BTF, so TypeScript encodes fields by name and never copies an offset.
 *
 * Layout: { name, size, kind, fields?, elemCount?, elemKind?, elem? }
 * kind: 'u8'|'u16'|'u32'|'u64'|'s8'..'s64' (host order), 'be16'|'be32'|'be64' (a typedef named
 * __be16/__be32/__be64 anywhere in the chain: network order), 'bytes' (u8/s8/char arrays, and
 * anything without a better description), 'array' (elem gives the element layout), 'struct' and
 * 'union' (fields), 'bits' (a bitfield: bitOffset/bitSize inside the enclosing struct). */
#include <string.h>
#include <bpf/btf.h>
#include "kpb.h"

#define MAX_DEPTH 16 /* BTF can be cyclic through pointers; layouts never follow pointers anyway */

static const char *be_kind(const char *name)
{
	if (!name)
		return NULL;
	if (!strcmp(name, "__be16"))
		return "be16";
	if (!strcmp(name, "__be32"))
		return "be32";
	if (!strcmp(name, "__be64"))
		return "be64";
	return NULL;
}

static const char *int_kind(uint32_t size, bool is_signed)
{
	switch (size) {
	case 1: return is_signed ? "s8" : "u8";
	case 2: return is_signed ? "s16" : "u16";
	case 4: return is_signed ? "s32" : "u32";
	case 8: return is_signed ? "s64" : "u64";
	}
	return "bytes";
}

static napi_value layout_of(napi_env env, const struct btf *btf, uint32_t id, int depth);

/* Fill `out` with kind/size (and fields or element info) for type id. */
static void describe(napi_env env, const struct btf *btf, uint32_t id, napi_value out, int depth)
{
	const struct btf_type *t = btf__type_by_id(btf, id);
	const char *be = NULL;
	const char *first_name = NULL;
	int guard = 0;
	/* Walk typedefs and qualifiers; the first name seen is what the C source called the type. */
	while (t && (btf_is_typedef(t) || btf_is_mod(t)) && guard++ < 32) {
		const char *n = btf__name_by_offset(btf, t->name_off);
		if (n && *n && !first_name)
			first_name = n;
		if (!be)
			be = be_kind(n);
		id = t->type;
		t = btf__type_by_id(btf, id);
	}
	if (!t) {
		kpb_set_str(env, out, "kind", "bytes");
		return;
	}
	const char *own = btf__name_by_offset(btf, t->name_off);
	if (!first_name)
		first_name = (own && *own) ? own : "";
	kpb_set_str(env, out, "name", first_name);
	long size = btf__resolve_size(btf, id);
	kpb_set_u32(env, out, "size", size > 0 ? (uint32_t)size : 0);
	if (be && (size == 2 || size == 4 || size == 8)) {
		kpb_set_str(env, out, "kind", be);
		return;
	}
	if (btf_is_int(t)) {
		uint8_t enc = btf_int_encoding(t);
		kpb_set_str(env, out, "kind", int_kind((uint32_t)size, (enc & BTF_INT_SIGNED) != 0));
		return;
	}
	if (btf_is_enum(t) || btf_is_ptr(t) || btf_kind(t) == BTF_KIND_ENUM64) {
		kpb_set_str(env, out, "kind", int_kind((uint32_t)size, false));
		return;
	}
	if (btf_is_array(t)) {
		const struct btf_array *a = btf_array(t);
		napi_value elem = layout_of(env, btf, a->type, depth + 1);
		napi_value k;
		char kind[16] = "";
		size_t klen = 0;
		kpb_set_u32(env, out, "elemCount", a->nelems);
		if (elem && napi_get_named_property(env, elem, "kind", &k) == napi_ok)
			napi_get_value_string_utf8(env, k, kind, sizeof(kind), &klen);
		if (!strcmp(kind, "u8") || !strcmp(kind, "s8")) {
			kpb_set_str(env, out, "kind", "bytes");
			return;
		}
		kpb_set_str(env, out, "kind", "array");
		kpb_set_str(env, out, "elemKind", kind);
		if (elem)
			napi_set_named_property(env, out, "elem", elem);
		return;
	}
	if ((btf_is_struct(t) || btf_is_union(t)) && depth < MAX_DEPTH) {
		const struct btf_member *m = btf_members(t);
		uint16_t n = btf_vlen(t);
		napi_value fields;
		kpb_set_str(env, out, "kind", btf_is_struct(t) ? "struct" : "union");
		napi_create_array_with_length(env, n, &fields);
		for (uint16_t i = 0; i < n; i++, m++) {
			uint32_t bit_off = btf_member_bit_offset(t, i);
			uint32_t bit_size = btf_member_bitfield_size(t, i);
			const char *mn = btf__name_by_offset(btf, m->name_off);
			napi_value f;
			napi_create_object(env, &f);
			describe(env, btf, m->type, f, depth + 1);
			/* The member name replaces the type name; keep the type name as typeName. */
			napi_value tn;
			if (napi_get_named_property(env, f, "name", &tn) == napi_ok)
				napi_set_named_property(env, f, "typeName", tn);
			kpb_set_str(env, f, "name", mn ? mn : "");
			kpb_set_u32(env, f, "offset", bit_off / 8);
			if (bit_size) {
				kpb_set_str(env, f, "kind", "bits");
				kpb_set_u32(env, f, "bitOffset", bit_off);
				kpb_set_u32(env, f, "bitSize", bit_size);
			}
			napi_set_element(env, fields, i, f);
		}
		napi_set_named_property(env, out, "fields", fields);
		return;
	}
	kpb_set_str(env, out, "kind", "bytes");
}

static napi_value layout_of(napi_env env, const struct btf *btf, uint32_t id, int depth)
{
	napi_value out;
	if (napi_create_object(env, &out) != napi_ok)
		return NULL;
	describe(env, btf, id, out, depth);
	return out;
}

napi_value kpb_btf_layout(napi_env env, const struct btf *btf, uint32_t id)
{
	if (!btf || !id || !btf__type_by_id(btf, id))
		return kpb_undefined(env);
	return layout_of(env, btf, id, 0);
}
