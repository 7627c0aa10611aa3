"""Demo apps, published in the app store on a new installation's first start (see
`homeport.services.demo`): a persona, and a guide that answers from a document with
citations. The same apps are in `examples/apps/`."""
