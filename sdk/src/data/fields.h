/* A dataset's batch fields: its named fields, or "x" and "y" for an x/y dataset. */
#ifndef LT_DATA_FIELDS_H
#define LT_DATA_FIELDS_H

#include <lt/data.h>

/* Checks ds's fields (names, dtypes, shapes) and writes them to out[*n]. */
lt_status lt__dataset_fields(const lt_dataset *ds, lt_field_desc out[LT_MAX_FIELDS], int *n);

#endif
