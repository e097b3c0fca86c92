/**
 * The read side of the Confluent Schema Registry API for `siem.events` consumers, mounted under
 * /api/v1/schema-registry. The data comes from schemas/ (the Avro schemas are the source of truth); this module
 * only serves it. Clients that speak Basic auth (most registry clients) pass an API token as the password.
 */
import express, { type Router } from 'express';
import { SCHEMA_REGISTRY_CONTENT_TYPE, schemaRegistryRoutes, type SchemaRegistryView } from '../schemas/index.ts';

export function schemaRegistryRouter(view?: SchemaRegistryView): Router {
  const router = express.Router();
  for (const route of schemaRegistryRoutes(view)) {
    router.get(route.path, (req, res) => {
      const answer = route.answer(req.params as Record<string, string>);
      res.status(answer.status).type(SCHEMA_REGISTRY_CONTENT_TYPE).send(JSON.stringify(answer.body));
    });
  }
  return router;
}
