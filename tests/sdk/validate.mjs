// Validates an OpenAPI document against the OpenAPI 3 schema and resolves every $ref
// (@apidevtools/swagger-parser). Exit 1 with the reason when it is not valid.
import SwaggerParser from "@apidevtools/swagger-parser";

const file = process.argv[2];
try {
  const api = await SwaggerParser.validate(file);
  console.log(`valid: ${api.info.title} ${api.info.version}, ${Object.keys(api.paths).length} paths`);
} catch (e) {
  console.error(`invalid: ${e.message}`);
  process.exit(1);
}
