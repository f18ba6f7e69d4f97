/* SPDX-License-Identifier: MIT */
#pragma once

/* Stable journal MESSAGE_IDs (generated once with systemd-id128 new; never change them). */

#define MESSAGE_ID_STARTED      "6f4e3d1c2b0a49f8a7e6d5c4b3a29180"
#define MESSAGE_ID_READY        "1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6"
#define MESSAGE_ID_REQUEST_DONE "8c0f5d1e7b2a4e7f9a51c3d2e4b6a708"
#define MESSAGE_ID_CHILD_FAILED "d41e7c2a9b3f4c5e8a6d0b1f2e3c4a59"
#define MESSAGE_ID_SCOPE_FAILED "5b9a8c7d6e5f4a3b2c1d0e9f8a7b6c5d"
#define MESSAGE_ID_LIMIT_HIT    "e7d6c5b4a3f24e1d9c8b7a6f5e4d3c2b"
#define MESSAGE_ID_RATE_LIMITED "3c2b1a0f9e8d4c7b6a5f4e3d2c1b0a98"
