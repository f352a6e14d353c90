/* SPDX-License-Identifier: BSD-3-Clause */
#include "teredo.h"
