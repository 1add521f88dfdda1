// Starts Swagger UI on this build's OpenAPI description. A file of its own, not an inline
// script, so the page's Content-Security-Policy can say `script-src 'self'`.
window.addEventListener("DOMContentLoaded", () => {
  window.ui = SwaggerUIBundle({
    url: "/api/openapi.yaml",
    dom_id: "#swagger-ui",
    // Links to an operation (#/phone-numbers/verify_phone_number) survive a reload.
    deepLinking: true,
    // The default sends the spec to validator.swagger.io: nothing leaves the page.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // "Try it out" calls this same origin, which the page's connect-src allows.
    tryItOutEnabled: false,
    displayRequestDuration: true,
    defaultModelsExpandDepth: 0,
  });
});
