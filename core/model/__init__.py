"""The DUSt3R network in plain torch (CroCo ViT encoder, cross-attention decoders, linear/DPT heads)."""
