#!/usr/bin/env bash
# Batches of named fields (Lightning's dict batches): a data plugin's four fields of
# float32 and int64 reach the module by name with their values, in order and shuffled;
# broken field descriptors and a missing field are one clear error each.
. "$(dirname "$0")/lib.sh"
CHECK="python3 $SRC_DIR/tests/e2e/data_check.py"
DUMP=(--module "$LT_TEST_PLUGIN_DIR/batch_dump.so" --model.out "$TMP/dump.txt"
      --data "$LT_TEST_PLUGIN_DIR/fields_data.so" --max_epochs 1)
python3 - "$TMP/want.json" <<'PY'
import json, sys
json.dump([[[i, i + 0.5, -i, i / 4], [i % 3], [1 / (i + 1)], [i, 7 * i, -i]] for i in range(50)],
          open(sys.argv[1], "w"))
PY
rm -f "$TMP/dump.txt"
expect_success predict "${DUMP[@]}" --model.require tokens
$CHECK "$TMP/dump.txt" "$TMP/want.json" ordered predict || fail "named fields in order"
rm -f "$TMP/dump.txt"
expect_success fit "${DUMP[@]}" --test_after_fit false
$CHECK "$TMP/dump.txt" "$TMP/want.json" shuffled train || fail "named fields shuffled"

expect_error "no field 'x' \(it has: image, label, weight, tokens\)" predict "${DUMP[@]}" --model.require x
expect_error "fields 1 and 2 are both named 'label'" predict "${DUMP[@]}" --data.mode dup_name
expect_error "field 1's name is empty or NULL" predict "${DUMP[@]}" --data.mode no_name
expect_error "field 'tokens' has dtype 7; it must be LT_F32, LT_I64, LT_U8, LT_F16 or LT_BF16" predict "${DUMP[@]}" --data.mode bad_dtype
expect_error "nfields in \[1, 8\] \(it has 9\)" predict "${DUMP[@]}" --data.mode too_many
expect_error "needs nfields .* the fields and fill_fields" predict "${DUMP[@]}" --data.mode no_fill
expect_error "image_shape\[1\] is 0" predict "${DUMP[@]}" --data.mode bad_shape

# A data plugin of ABI 1.0 (shorter descriptor and dataset) still loads and reads.
python3 -c "import json; json.dump([[[i / 2], [i % 3]] for i in range(20)], open('$TMP/old.json', 'w'))"
rm -f "$TMP/dump.txt"
expect_success predict --module "$LT_TEST_PLUGIN_DIR/batch_dump.so" --model.out "$TMP/dump.txt" \
    --data "$LT_TEST_PLUGIN_DIR/abi10_data.so" --data.length 20
$CHECK "$TMP/dump.txt" "$TMP/old.json" ordered predict || fail "an ABI 1.0 data plugin"
echo "named batch fields checked"
