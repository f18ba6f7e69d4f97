/* SPDX-License-Identifier: MIT */

/*
 * Structured output: a request names a JSON schema and the answer is one JSON value that
 * follows it. The CLI does this itself (initialize{jsonSchema}, cli/README §13): it offers the
 * model a synthetic `StructuredOutput` tool whose input_schema is the schema, validates the call,
 * makes the model retry an invalid one, and reports the value as `result.structured_output`.
 *
 * This module reads the schema out of each surface's own field, checks it is something the CLI
 * can use as a tool's input_schema, says which content blocks of such a run the client must not
 * see (the value arrives as the answer text instead), and turns the result line into that text.
 * It does not talk to the CLI (cli/control.c builds the initialize) and frames nothing
 * (anthropic-stream.c emits the text block, the OpenAI surfaces re-tell it).
 */

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/structured-output.h"
#include "util/macro.h"

static bool is_set(const json_t *v) {
        return v && !json_is_null(v);
}

/* A type word compared with a C string: "json_schema\u0000x" is not "json_schema". */
static const char *clean_type(const json_t *o) {
        const json_t *v = json_object_get(o, "type");
        const char *s = json_string_value(v);

        return s && strlen(s) == json_string_length(v) ? s : NULL;
}

/*
 * The schema becomes the input_schema of a tool, which upstream only takes for an object: a
 * schema for anything else would fail there, after a cold start, in less readable words.
 */
static int schema_copy(const json_t *schema, const char *param, json_t **ret, ApiError *reterr) {
        const json_t *type = json_object_get(schema, "type");
        json_t *copy;

        if (!json_is_object(schema))
                return api_error_request(reterr, param, "%s: required, an object (a JSON schema)", param);
        if (is_set(type) && !streq_ptr(json_string_value(type), "object"))
                return api_error_request(reterr, param,
                                         "%s: the schema must describe an object (\"type\": \"object\"); wrap "
                                         "other values in an object property", param);
        /* A copy: the request keeps it after the body's tree is gone, and hands it to the CLI. */
        copy = json_deep_copy(schema);
        if (!copy)
                return -ENOMEM;
        *ret = copy;
        return 0;
}

static int object_schema(json_t **ret) {
        json_t *s = json_pack("{s:s}", "type", "object");

        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

/**
 * structured_output_from_anthropic() - the schema of a /v1/messages request
 * @body: the request body
 * @ret_schema: new schema object, or NULL when the request asks for none
 * @reterr: on a client error, a 400 naming the field
 *
 * `output_config.format` wins over the older `output_format`; both are
 * {"type":"json_schema","schema":{...}}.
 *
 * Return: 0; -EINVAL for a client error; -ENOMEM.
 */
int structured_output_from_anthropic(const json_t *body, json_t **ret_schema, ApiError *reterr) {
        const json_t *config = json_object_get(body, "output_config");
        const json_t *format = json_object_get(config, "format");
        const char *at = "output_config.format";
        char param[64];

        assert(ret_schema);
        *ret_schema = NULL;

        if (!is_set(format)) {
                format = json_object_get(body, "output_format");
                at = "output_format";
        }
        if (!is_set(format))
                return 0;
        if (!json_is_object(format))
                return api_error_request(reterr, at, "%s: must be an object", at);
        (void) snprintf(param, sizeof(param), "%s.type", at);
        if (!streq_ptr(clean_type(format), "json_schema"))
                return api_error_request(reterr, param, "%s: must be \"json_schema\"", param);
        (void) snprintf(param, sizeof(param), "%s.schema", at);
        return schema_copy(json_object_get(format, "schema"), param, ret_schema, reterr);
}

/**
 * structured_output_from_chat() - the schema of a /v1/chat/completions request
 * @body: the request body
 * @ret_schema: new schema object, or NULL for none (absent, or type "text")
 * @reterr: on a client error, a 400 naming the field
 *
 * json_schema takes `.json_schema.schema`; json_object asks for any object, which is the schema
 * {"type":"object"} (the CLI still has the model answer through the tool, so the value is JSON).
 *
 * Return: 0; -EINVAL for a client error; -ENOMEM.
 */
int structured_output_from_chat(const json_t *body, json_t **ret_schema, ApiError *reterr) {
        const json_t *format = json_object_get(body, "response_format");
        const char *type;

        assert(ret_schema);
        *ret_schema = NULL;

        if (!is_set(format))
                return 0;
        if (!json_is_object(format))
                return api_error_request(reterr, "response_format", "response_format: must be an object");
        type = clean_type(format);
        if (streq_ptr(type, "text"))
                return 0;
        if (streq_ptr(type, "json_object"))
                return object_schema(ret_schema);
        if (streq_ptr(type, "json_schema")) {
                const json_t *js = json_object_get(format, "json_schema");

                if (!json_is_object(js))
                        return api_error_request(reterr, "response_format.json_schema",
                                                 "response_format.json_schema: required, an object with the schema "
                                                 "at \"schema\"");
                return schema_copy(json_object_get(js, "schema"), "response_format.json_schema.schema", ret_schema,
                                   reterr);
        }
        return api_error_request(reterr, "response_format.type",
                                 "response_format.type: must be \"text\", \"json_object\" or \"json_schema\"");
}

/**
 * structured_output_from_responses() - the schema of a /v1/responses request
 * @body: the request body
 * @ret_schema: new schema object, or NULL for none (no text.format, or type "text")
 * @reterr: on a client error, a 400 naming the field
 *
 * Return: 0; -EINVAL for a client error; -ENOMEM.
 */
int structured_output_from_responses(const json_t *body, json_t **ret_schema, ApiError *reterr) {
        const json_t *text = json_object_get(body, "text");
        const json_t *format = json_object_get(text, "format");
        const char *type;

        assert(ret_schema);
        *ret_schema = NULL;

        if (is_set(text) && !json_is_object(text))
                return api_error_request(reterr, "text", "text: must be an object");
        if (!is_set(format))
                return 0;
        if (!json_is_object(format))
                return api_error_request(reterr, "text.format", "text.format: must be an object");
        type = clean_type(format);
        if (streq_ptr(type, "text"))
                return 0;
        if (streq_ptr(type, "json_object"))
                return object_schema(ret_schema);
        if (streq_ptr(type, "json_schema"))
                return schema_copy(json_object_get(format, "schema"), "text.format.schema", ret_schema, reterr);
        return api_error_request(reterr, "text.format.type",
                                 "text.format.type: must be \"text\", \"json_object\" or \"json_schema\"");
}

/**
 * structured_output_hides_block() - whether the client must not see a block of a structured run
 * @content_block: a content block (a stream event's content_block, or one of an assistant line)
 *
 * The text and thinking around the value would make the answer something other than the JSON
 * value (the model may say "Here you go" before calling the tool, or text the CLI then nudges
 * away, §13), and the StructuredOutput call is the CLI's own tool, not the client's. A tool_use
 * of any other name is a client tool call and must pass.
 *
 * Return: true to drop the block with its deltas.
 */
bool structured_output_hides_block(const json_t *content_block) {
        const char *type = clean_type(content_block);

        if (streq_ptr(type, "text") || streq_ptr(type, "thinking") || streq_ptr(type, "redacted_thinking"))
                return true;
        return streq_ptr(type, "tool_use") &&
               streq_ptr(json_string_value(json_object_get(content_block, "name")), STRUCTURED_OUTPUT_TOOL);
}

/**
 * structured_output_text() - the answer text of a finished structured run
 * @result: the CLI's result line
 * @ret_text: new string, the value as compact JSON
 * @reterr: filled when there is no value
 *
 * Return: 0; -ENODATA (502 api_error) when the result has no structured_output; -ENOMEM.
 */
int structured_output_text(const json_t *result, char **ret_text, ApiError *reterr) {
        const json_t *value = json_object_get(result, "structured_output");
        char *text;

        assert(ret_text);

        if (!is_set(value)) {
                int r = api_error_set(reterr, -ENODATA, 502, "api_error",
                                      "The model did not produce output matching the requested JSON schema "
                                      "(it answered without calling the StructuredOutput tool)");
                if (reterr)
                        reterr->error_class = "structured_output";
                return r;
        }
        text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!text)
                return -ENOMEM;
        *ret_text = text;
        return 0;
}
